// One group: its faces as a grid of crops, a page at a time (a group may
// hold 100,000 faces; the next page loads when the end of the grid scrolls
// into view), filtered by user or face token; unbind and delete per face;
// and the enrolment panel. Groups of other libraries than the FacePass one
// are browsed (faces, users) but changed through the Baidu API.
import { useEffect, useRef, useState } from 'preact/hooks';
import { faceCropUrl, type Api, type GroupFace, type GroupFacesPage, type GroupUser } from '../api.js';
import { when } from '../format.js';
import { ErrorLine, useLoad } from './common.js';
import { Enrol } from './enrol.js';

const PAGE = 60;

export function GroupPage(props: { api: Api; library: string; name: string }) {
  const { api, library, name } = props;
  const editable = library === 'default';
  const [faces, setFaces] = useState<GroupFace[]>([]);
  const [info, setInfo] = useState<{ count: number; version: number } | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [filter, setFilter] = useState('');
  const [field, setField] = useState<'user_id' | 'face_token'>('user_id');
  const [applied, setApplied] = useState('');
  const [appliedField, setAppliedField] = useState<'user_id' | 'face_token'>('user_id');
  const [generation, setGeneration] = useState(0);
  const loading = useRef(false);
  const sentinel = useRef<HTMLDivElement>(null);

  const load = async (after: string | null, reset: boolean) => {
    if (loading.current) return;
    loading.current = true;
    try {
      const byToken = appliedField === 'face_token';
      const page = await api.get<GroupFacesPage>('/api/console/v1/group/faces', {
        library,
        group_name: name,
        limit: PAGE,
        after: after ?? undefined,
        user_id: applied && !byToken ? applied : undefined,
        face_token: byToken ? applied : undefined,
      });
      setInfo({ count: page.face_count, version: page.version });
      setFaces((list) => (reset ? page.faces : [...list, ...page.faces]));
      setNext(page.next);
      setDone(page.next === null);
      setError(undefined);
    } catch (err) {
      setError(err);
    } finally {
      loading.current = false;
    }
  };

  // First page whenever the group, the filter or the contents change.
  useEffect(() => {
    setFaces([]);
    setDone(false);
    void load(null, true);
  }, [library, name, applied, appliedField, generation]);

  // The next page when the end of the grid comes into view.
  useEffect(() => {
    const target = sentinel.current;
    if (!target || done) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && next) void load(next, false);
    });
    observer.observe(target);
    return () => observer.disconnect();
  }, [next, done]);

  const act = async (path: string, body: Record<string, string>) => {
    try {
      await api.post(path, body);
      setGeneration((n) => n + 1);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <p class="crumbs"><a href={`#/groups/${encodeURIComponent(library)}`}>Groups of {library}</a> › {name}</p>
      <h2>Group <code>{name}</code></h2>
      {info && <p class="facts" id="group-facts"><span>{info.count} faces</span><span>version {info.version}</span></p>}
      {editable && <Enrol api={api} groupName={name} onBound={() => setGeneration((n) => n + 1)} />}
      <Users api={api} library={library} name={name} generation={generation} onPick={(user) => {
        setField('user_id');
        setFilter(user);
        setAppliedField('user_id');
        setApplied(user);
      }} />
       <form class="row" onSubmit={(e) => { e.preventDefault(); setApplied(filter.trim()); setAppliedField(field); }}>
        <select id="filter-field" value={field} onChange={(e) => setField(e.currentTarget.value as 'user_id' | 'face_token')}>
          <option value="user_id">user id</option>
          <option value="face_token">face token</option>
        </select>
        <input id="face-filter" placeholder="filter" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        <button type="submit">Filter</button>
        {applied && <button type="button" class="link" onClick={() => { setFilter(''); setApplied(''); }}>Show all</button>}
      </form>
      <ErrorLine error={error} />
      {faces.length === 0 && done && <p class="empty">{applied ? 'No face matches.' : 'No faces in this group yet. Drop photos above.'}</p>}
      <ul class="grid" id="face-grid">
        {faces.map((face) => (
          <li key={face.face_token} class="tile" data-token={face.face_token}>
            <a href={`#/face/${face.face_token}`}>
              <img loading="lazy" src={faceCropUrl(face.face_token)} alt={`face ${face.face_token}`} />
            </a>
            <div class="caption">
              {face.user_id ? <strong>{face.user_id}</strong> : <span class="hint">no user</span>}
              {face.user_info && <span class="hint">{face.user_info}</span>}
              <span class="hint" title={when(face.bound_at)}>{face.face_token.slice(0, 10)}…</span>
            </div>
            {editable && (
              <div class="actions">
                <button class="link" onClick={() => act('/api/group/v1/unbind', { group_name: name, face_token: face.face_token })}>Unbind</button>
                <button class="link danger" onClick={() => act('/api/face/v1/delete', { face_token: face.face_token })}>Delete face</button>
              </div>
            )}
          </li>
        ))}
      </ul>
      <div ref={sentinel} class="sentinel">{!done && faces.length > 0 && <button onClick={() => next && load(next, false)}>Load more</button>}</div>
    </section>
  );
}

const USERS_SHOWN = 100;

/** The group's users (bindings that carry a user id), first 100 by id; picking one filters the grid. */
function Users(props: { api: Api; library: string; name: string; generation: number; onPick: (userId: string) => void }) {
  const users = useLoad(
    () => props.api.get<{ users: GroupUser[] }>('/api/console/v1/group/users', { library: props.library, group_name: props.name, limit: USERS_SHOWN }),
    [props.library, props.name, props.generation],
  );
  const list = users.data?.users ?? [];
  if (list.length === 0) return null;
  return (
    <section class="card users" id="group-users">
      <h3>Users{list.length === USERS_SHOWN ? ` (first ${USERS_SHOWN})` : ''}</h3>
      <ul class="chips">
        {list.map((user) => (
          <li key={user.user_id}>
            <button class="chip" data-user={user.user_id} onClick={() => props.onPick(user.user_id)} title={user.user_info}>
              <strong>{user.user_id}</strong> {user.user_info && <span class="hint">{user.user_info}</span>} <span class="count">{user.face_count}</span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
