// One face: the original photo with the box and landmarks, its quality
// against the enrolment limits, the groups it is bound to, and its history.
import { imageUrl, type Api, type FaceDetail } from '../api.js';
import { when } from '../format.js';
import { ErrorLine, useLoad } from './common.js';
import { Photo } from './photo.js';

interface Measure {
  key: keyof FaceDetail['quality'];
  label: string;
  digits: number;
  unit: string;
  limit: string;
  ok: (v: number) => boolean;
}

/** Each measure beside the server's own enrolment limit. */
function measures(a: FaceDetail['admission']): Measure[] {
  return [
    { key: 'yaw', label: 'Turned sideways (yaw)', digits: 1, unit: '°', limit: `≤ ${a.max_yaw}°`, ok: (v) => Math.abs(v) <= a.max_yaw },
    { key: 'pitch', label: 'Tilted up/down (pitch)', digits: 1, unit: '°', limit: `≤ ${a.max_pitch}°`, ok: (v) => Math.abs(v) <= a.max_pitch },
    { key: 'roll', label: 'Tilted sideways (roll)', digits: 1, unit: '°', limit: `≤ ${a.max_roll}°`, ok: (v) => Math.abs(v) <= a.max_roll },
    { key: 'blur', label: 'Blur', digits: 2, unit: '', limit: `≤ ${a.max_blur}`, ok: (v) => v <= a.max_blur },
    { key: 'brightness', label: 'Brightness', digits: 0, unit: '', limit: `${a.min_brightness} – ${a.max_brightness}`, ok: (v) => v >= a.min_brightness && v <= a.max_brightness },
    { key: 'brightnessStd', label: 'Uneven light (std. dev.)', digits: 1, unit: '', limit: `≤ ${a.max_brightness_std}`, ok: (v) => v <= a.max_brightness_std },
  ];
}

export function FacePage(props: { api: Api; token: string }) {
  const { api, token } = props;
  const face = useLoad(() => api.get<FaceDetail>('/api/console/v1/face', { face_token: token }), [token]);
  const detail = face.data;
  return (
    <section>
      <p class="crumbs"><a href="#/groups">Groups</a> › face</p>
      <h2>Face <code>{token}</code></h2>
      <ErrorLine error={face.error} />
      {detail && (
        <div class="face-page">
          <Photo
            src={imageUrl(detail.image_id)}
            rect={detail.rect}
            landmarks={detail.landmarks}
            size={detail.image}
            alt="the enrolled photo"
            class="large"
          />
          <div>
            {detail.deleted_at !== null && <p class="error">This face was deleted on {when(detail.deleted_at)}.</p>}
            <h3>Quality</h3>
            <table id="quality">
              <thead><tr><th>Measure</th><th>Value</th><th>Accepted</th></tr></thead>
              <tbody>
                {measures(detail.admission).map((q) => {
                  const value = detail.quality[q.key];
                  return (
                    <tr key={q.key} class={q.ok(value) ? '' : 'bad'}>
                      <td>{q.label}</td>
                      <td class="num">{value.toFixed(q.digits)}{q.unit}</td>
                      <td>{q.limit}</td>
                    </tr>
                  );
                })}
                <tr><td>Face size</td><td class="num">{detail.rect.right - detail.rect.left} × {detail.rect.bottom - detail.rect.top} px</td><td>≥ {detail.admission.min_face_size} × {detail.admission.min_face_size}</td></tr>
              </tbody>
            </table>
            <h3>Groups</h3>
            {detail.groups.length === 0
              ? <p class="empty" id="face-groups">Not bound to any group.</p>
              : (
                <ul id="face-groups">
                  {detail.groups.map((g) => (
                    <li key={g.group_name}>
                      <a href={`#/group/${encodeURIComponent(g.library)}/${encodeURIComponent(g.group_name)}`}>{g.group_name}</a>
                      {g.library !== 'default' && <span class="hint"> (library {g.library})</span>}
                      {g.user_id && <> as <strong>{g.user_id}</strong></>}
                      <span class="hint"> since {when(g.bound_at)}</span>
                    </li>
                  ))}
                </ul>
              )}
            <h3>History</h3>
            <ul id="face-history">
              {[
                { at: detail.created_at, text: `Enrolled (feature model ${detail.model_version})` },
                ...detail.groups.map((g) => ({ at: g.bound_at, text: `Bound to ${g.group_name}` })),
                ...(detail.deleted_at !== null ? [{ at: detail.deleted_at, text: 'Deleted' }] : []),
              ]
                .sort((a, b) => a.at - b.at)
                .map((entry, i) => <li key={i}><span class="hint">{when(entry.at)}</span> {entry.text}</li>)}
            </ul>
            <p class="hint">Landmarks: {detail.landmarks.length > 0 ? `${detail.landmarks.length} points, found again on the stored photo` : 'not found on the stored photo'}.</p>
          </div>
        </div>
      )}
    </section>
  );
}
