// Enrolment by drag and drop: every dropped photo goes to the ordinary
// face-add API (two at a time), with a progress bar and, per photo, the face
// box or the refusal in words. Enrolled faces are then bound to the group:
// as a user (Baidu face/add with the FACE_TOKEN, which binds with user_id and
// user_info) when a user id is given, else bare (FacePass bind).
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type AddedFace, type Api, type Rect } from '../api.js';
import { capitalise, explain } from '../words.js';
import { Photo } from './photo.js';

type Status = 'waiting' | 'uploading' | 'enrolled' | 'refused' | 'bound' | 'bind-failed';

interface Item {
  id: number;
  name: string;
  file: File;
  preview: string;
  status: Status;
  face?: AddedFace;
  rect?: Rect;
  reasons?: string[];
  code?: string;
  /** Bind as this user (Baidu user_id); '' binds the bare face. Defaults to the file name. */
  userId: string;
  userInfo: string;
}

/** A Baidu user_id from a file name: "Amy Farrah.png" -> "Amy_Farrah". */
const userIdOf = (fileName: string) => fileName.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 48);
const USER_ID = /^[A-Za-z0-9_]{1,48}$/;

const PARALLEL = 2;

export function Enrol(props: { api: Api; groupName: string; onBound: () => void }) {
  const [items, setItems] = useState<Item[]>([]);
  const [over, setOver] = useState(false);
  const [binding, setBinding] = useState(false);
  const nextId = useRef(1);
  const input = useRef<HTMLInputElement>(null);
  // Object URLs are released when the panel goes away.
  const previews = useRef<string[]>([]);
  useEffect(() => () => previews.current.forEach((url) => URL.revokeObjectURL(url)), []);

  const update = (id: number, patch: Partial<Item>) => setItems((list) => list.map((item) => (item.id === id ? { ...item, ...patch } : item)));

  const upload = async (item: Item) => {
    update(item.id, { status: 'uploading' });
    const form = new FormData();
    form.append('image', item.file, item.name);
    try {
      const face = await props.api.call<AddedFace>('POST', '/api/face/v1/add', form);
      update(item.id, { status: 'enrolled', face, rect: face.rect });
    } catch (err) {
      const refusal = err instanceof ApiError ? explain(err.message) : { reasons: [String(err)], code: '' };
      const rect = err instanceof ApiError ? (err.data.rect as Rect | undefined) : undefined;
      update(item.id, { status: 'refused', reasons: refusal.reasons, code: refusal.code, rect });
    }
  };

  const add = async (files: FileList | File[]) => {
    const fresh: Item[] = [...files].map((file) => {
      const preview = URL.createObjectURL(file);
      previews.current.push(preview);
      return { id: nextId.current++, name: file.name, file, preview, status: 'waiting' as const, userId: userIdOf(file.name), userInfo: '' };
    });
    setItems((list) => [...list, ...fresh]);
    const queue = [...fresh];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) await upload(item);
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  };

  const enrolled = items.filter((item) => item.status === 'enrolled');
  const badUser = enrolled.some((item) => item.userId !== '' && !USER_ID.test(item.userId));
  const bind = async () => {
    setBinding(true);
    for (const item of enrolled) {
      try {
        const token = item.face!.face_token;
        if (item.userId === '') await props.api.post('/api/group/v1/bind', { group_name: props.groupName, face_token: token });
        else {
          await props.api.baidu('/face-api/v3/face/add', {
            image: token,
            image_type: 'FACE_TOKEN',
            group_id: props.groupName,
            user_id: item.userId,
            ...(item.userInfo ? { user_info: item.userInfo } : {}),
          });
        }
        update(item.id, { status: 'bound' });
      } catch (err) {
        update(item.id, { status: 'bind-failed', reasons: err instanceof ApiError ? explain(err.message).reasons : [String(err)] });
      }
    }
    setBinding(false);
    props.onBound();
  };

  const finished = items.filter((item) => item.status !== 'waiting' && item.status !== 'uploading').length;
  return (
    <section class="card enrol">
      <h3>Enrol photos</h3>
      <div
        id="dropzone"
        class={`dropzone ${over ? 'over' : ''}`}
        onDragOver={(e) => { e.preventDefault(); setOver(true); }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          if (e.dataTransfer?.files.length) void add(e.dataTransfer.files);
        }}
        onClick={() => input.current?.click()}
      >
        Drop JPEG or PNG photos here, or click to choose. Each photo's largest face is enrolled.
        <input ref={input} type="file" accept="image/jpeg,image/png" multiple hidden onChange={(e) => {
          const files = e.currentTarget.files;
          if (files?.length) void add([...files]);
          e.currentTarget.value = '';
        }} />
      </div>
      {items.length > 0 && (
        <>
          <div class="progress-line">
            <progress id="enrol-progress" max={items.length} value={finished} />
            <span id="enrol-count">{finished} of {items.length} done</span>
            {enrolled.length > 0 && (
              <button id="bind-enrolled" disabled={binding || badUser} onClick={bind}>
                Bind {enrolled.length} enrolled face{enrolled.length === 1 ? '' : 's'} to {props.groupName}
              </button>
            )}
          </div>
          <ul class="results">
            {items.map((item) => (
              <li key={item.id} class={`result ${item.status}`} data-file={item.name} data-status={item.status}>
                <Photo src={item.preview} rect={item.rect} tone={item.status === 'refused' ? 'bad' : 'ok'} alt={item.name} class="thumb" />
                <div>
                  <div class="file">{item.name}</div>
                  <ResultText item={item} />
                  {item.status === 'enrolled' && (
                    <div class="user-fields">
                      <input class="user-id" placeholder="user id (optional)" value={item.userId} onInput={(e) => update(item.id, { userId: e.currentTarget.value.trim() })} />
                      <input class="user-info" placeholder="user info" value={item.userInfo} onInput={(e) => update(item.id, { userInfo: e.currentTarget.value })} />
                      {item.userId !== '' && !USER_ID.test(item.userId) && <span class="error">letters, digits and _ only, at most 48</span>}
                    </div>
                  )}
                </div>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function ResultText(props: { item: Item }) {
  const { item } = props;
  switch (item.status) {
    case 'waiting':
      return <span class="hint">Waiting…</span>;
    case 'uploading':
      return <span class="hint">Checking the photo…</span>;
    case 'enrolled':
      return <span class="ok">Enrolled: face <code>{item.face!.face_token.slice(0, 12)}…</code>, ready to bind</span>;
    case 'bound':
      return (
        <span class="ok">
          Bound{item.userId ? <> as <strong>{item.userId}</strong></> : ''}: <a href={`#/face/${item.face!.face_token}`}>open the face</a>
        </span>
      );
    case 'refused':
    case 'bind-failed':
      return (
        <div class="refusal">
          <strong>{item.status === 'refused' ? 'Refused' : 'Not bound'}:</strong>
          <ul>{(item.reasons ?? []).map((reason) => <li key={reason}>{capitalise(reason)}</li>)}</ul>
          {item.code && <span class="hint"><code>{item.code}</code></span>}
        </div>
      );
  }
}
