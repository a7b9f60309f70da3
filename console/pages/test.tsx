// Try recognition: one photo searched in the chosen groups (every face found,
// its best matches, each score against the recognize threshold), and two
// photos compared 1:1 against the compare threshold. Both call the ordinary
// FacePass endpoints (/api/service/recognize/v1, /api/service/compare/v1).
import { useState } from 'preact/hooks';
import { ApiError, faceCropUrl, type Api, type GroupRow, type Rect } from '../api.js';
import { capitalise, explain } from '../words.js';
import { ErrorLine, useLoad } from './common.js';
import { Photo } from './photo.js';

interface Candidate {
  face_token: string;
  score: number;
  user_id?: string;
  user_info?: string;
}

interface RecognizedFace {
  rect: Rect;
  pose: { yaw: number; pitch: number; roll: number };
  blur: number;
  recognized: boolean;
  candidates: Candidate[];
}

interface RecognizeAnswer {
  group_name: string;
  recognize_threshold: number;
  results: Array<{ track_id: string; faces: RecognizedFace[] }>;
}

interface CompareAnswer {
  score: number;
  compare_threshold: number;
  detection_result_1: { rect: Rect };
  detection_result_2: { rect: Rect };
}

/** One face of the photo with its matches in every group searched. */
interface FaceMatches {
  rect: Rect;
  matches: Array<Candidate & { group: string }>;
}

const sameRect = (a: Rect, b: Rect) => a.left === b.left && a.top === b.top && a.right === b.right && a.bottom === b.bottom;

function refusal(err: unknown): string {
  return err instanceof ApiError ? explain(err.message).reasons.map(capitalise).join('. ') : String(err);
}

function PhotoPicker(props: { id: string; label: string; file: File | null; onFile: (file: File) => void }) {
  const [url, setUrl] = useState<string | null>(null);
  const take = (file: File | undefined) => {
    if (!file) return;
    if (url) URL.revokeObjectURL(url);
    setUrl(URL.createObjectURL(file));
    props.onFile(file);
  };
  return (
    <label
      class="dropzone picker"
      id={props.id}
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => { e.preventDefault(); take(e.dataTransfer?.files[0]); }}
    >
      {url ? <img src={url} alt={props.label} /> : <span>{props.label}: drop a photo here or click to choose</span>}
      <input type="file" accept="image/jpeg,image/png,image/bmp" hidden onChange={(e) => take(e.currentTarget.files?.[0])} />
    </label>
  );
}

export function TestPage(props: { api: Api }) {
  const { api } = props;
  const groups = useLoad(() => api.get<{ groups: GroupRow[] }>('/api/console/v1/groups'), []);
  const [chosen, setChosen] = useState<string[]>([]);
  const [topN, setTopN] = useState(3);
  const [photo, setPhoto] = useState<File | null>(null);
  const [result, setResult] = useState<{ url: string; threshold: number; faces: FaceMatches[] } | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const search = async () => {
    if (!photo) return;
    setBusy(true);
    setError('');
    setResult(null);
    try {
      const faces: FaceMatches[] = [];
      let threshold = 0;
      // The endpoint searches one group per call: one call per chosen group, merged by face box.
      for (const group of chosen) {
        const form = new FormData();
        form.append('group_name', group);
        form.append('face_data', JSON.stringify({ top_n: topN }));
        form.append('image_0', photo, photo.name);
        const answer = await api.call<RecognizeAnswer>('POST', '/api/service/recognize/v1', form);
        threshold = answer.recognize_threshold;
        for (const face of answer.results.flatMap((track) => track.faces)) {
          let entry = faces.find((f) => sameRect(f.rect, face.rect));
          if (!entry) faces.push((entry = { rect: face.rect, matches: [] }));
          entry.matches.push(...face.candidates.map((c) => ({ ...c, group })));
        }
      }
      for (const face of faces) face.matches.sort((a, b) => b.score - a.score);
      setResult({ url: URL.createObjectURL(photo), threshold, faces });
    } catch (err) {
      setError(refusal(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <h2>Test recognition</h2>
      <div class="card">
        <h3>Search a photo</h3>
        <ErrorLine error={groups.error} />
        <div class="row wrap" id="test-groups">
          <span>In groups:</span>
          {(groups.data?.groups ?? []).map((g) => (
            <label key={g.group_name} class="check">
              <input type="checkbox" value={g.group_name} checked={chosen.includes(g.group_name)}
                onChange={(e) => setChosen((list) => (e.currentTarget.checked ? [...list, g.group_name] : list.filter((n) => n !== g.group_name)))} />
              {g.group_name}
            </label>
          ))}
          <label>best <select value={topN} onChange={(e) => setTopN(Number(e.currentTarget.value))}>
            {[1, 3, 5, 10].map((n) => <option key={n} value={n}>{n}</option>)}
          </select> per group</label>
        </div>
        <PhotoPicker id="search-photo" label="Photo to search" file={photo} onFile={setPhoto} />
        <div class="row">
          <button id="run-search" disabled={busy || !photo || chosen.length === 0} onClick={search}>Search</button>
          {chosen.length === 0 && <span class="hint">choose at least one group</span>}
        </div>
        {error && <p class="error" id="search-error">{error}</p>}
        {result && (
          <div class="search-result" id="search-result">
            {result.faces.length === 0 && <p class="empty">No face found in the photo.</p>}
            {result.faces.map((face, i) => (
              <div class="face-matches" key={i} data-face={i}>
                <Photo src={result.url} rect={face.rect} alt={`face ${i + 1}`} class="thumb" />
                <div>
                  <strong>Face {i + 1}</strong> <span class="hint">threshold {result.threshold}</span>
                  {face.matches.length === 0 && <p class="empty">No candidates.</p>}
                  <ol class="matches">
                    {face.matches.map((m) => {
                      const match = m.score >= result.threshold;
                      return (
                        <li key={`${m.group}/${m.face_token}`} class={match ? 'match' : 'nomatch'} data-token={m.face_token} data-match={String(match)}>
                          <a href={`#/face/${m.face_token}`}><img src={faceCropUrl(m.face_token)} alt="" loading="lazy" /></a>
                          <span><strong>{m.user_id ?? m.face_token.slice(0, 10) + '…'}</strong> in {m.group}</span>
                          <span class="score">{m.score.toFixed(1)}</span>
                          <span>{match ? 'same person' : 'below threshold'}</span>
                        </li>
                      );
                    })}
                  </ol>
                </div>
              </div>
            ))}
          </div>
        )}
      </div>
      <Compare api={api} />
    </section>
  );
}

function Compare(props: { api: Api }) {
  const [first, setFirst] = useState<File | null>(null);
  const [second, setSecond] = useState<File | null>(null);
  const [answer, setAnswer] = useState<CompareAnswer | null>(null);
  const [error, setError] = useState('');
  const run = async () => {
    if (!first || !second) return;
    setError('');
    setAnswer(null);
    const form = new FormData();
    form.append('image_1', first, first.name);
    form.append('image_2', second, second.name);
    form.append('enable_liveness', 'false');
    try {
      setAnswer(await props.api.call<CompareAnswer>('POST', '/api/service/compare/v1', form));
    } catch (err) {
      setError(refusal(err));
    }
  };
  const same = answer ? answer.score >= answer.compare_threshold : false;
  return (
    <div class="card">
      <h3>Compare two photos</h3>
      <div class="row">
        <PhotoPicker id="compare-1" label="First photo" file={first} onFile={setFirst} />
        <PhotoPicker id="compare-2" label="Second photo" file={second} onFile={setSecond} />
      </div>
      <button id="run-compare" disabled={!first || !second} onClick={run}>Compare</button>
      {error && <p class="error" id="compare-error">{error}</p>}
      {answer && (
        <p id="compare-result" class={same ? 'ok' : 'error'}>
          Score <strong>{answer.score.toFixed(1)}</strong> against threshold {answer.compare_threshold}: {same ? 'the same person' : 'not the same person'}.
        </p>
      )}
    </div>
  );
}
