// Libraries and their groups: face count, version, last change; create;
// delete after a confirmation that says what is lost. Groups of the default
// library (the FacePass one, which terminals sync) are created and deleted
// here; other libraries (Baidu appids) are browsed, and managed through the
// Baidu API.
import { useState } from 'preact/hooks';
import type { Api, GroupRow } from '../api.js';
import { ago, when } from '../format.js';
import { ErrorLine, useLoad } from './common.js';

const GROUP_NAME = /^[a-zA-Z0-9_]{4,16}$/;

const groupLink = (library: string, name: string) => `#/group/${encodeURIComponent(library)}/${encodeURIComponent(name)}`;

export function GroupsPage(props: { api: Api; library: string }) {
  const { api, library } = props;
  const libraries = useLoad(() => api.get<{ libraries: string[] }>('/api/console/v1/libraries'), []);
  const groups = useLoad(() => api.get<{ groups: GroupRow[] }>('/api/console/v1/groups', { library }), [library]);
  const editable = library === 'default';
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [confirming, setConfirming] = useState<GroupRow | null>(null);

  const create = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      await api.post('/api/group/v1/create', { group_name: name });
      setName('');
      groups.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (group: GroupRow) => {
    setError(undefined);
    try {
      await api.post('/api/group/v1/delete', { group_name: group.group_name });
      setConfirming(null);
      groups.reload();
    } catch (err) {
      setError(err);
    }
  };
  const valid = GROUP_NAME.test(name);
  return (
    <section>
      {libraries.data && libraries.data.libraries.length > 1 && (
        <nav class="tabs" id="libraries">
          {libraries.data.libraries.map((id) => (
            <a key={id} href={`#/groups/${encodeURIComponent(id)}`} class={id === library ? 'active' : ''} data-library={id}>{id}</a>
          ))}
        </nav>
      )}
      <h2>Library <code>{library}</code></h2>
      {editable
        ? (
          <>
            <p class="hint">The FacePass library: its groups are what terminals sync.</p>
            <form class="row" onSubmit={create}>
              <input id="new-group" placeholder="new group name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
              <button id="create-group" type="submit" disabled={!valid}>Create group</button>
              {name && !valid && <span class="hint">4–16 letters, digits or _</span>}
            </form>
          </>
        )
        : <p class="hint">A Baidu library (appid <code>{library}</code>): browse it here; its groups and users are managed through the Baidu API.</p>}
      <ErrorLine error={error ?? groups.error} />
      {confirming && (
        <div class="confirm card" role="alertdialog" id="confirm-delete">
          <p>
            Delete group <strong>{confirming.group_name}</strong>? Its <strong>{confirming.face_count}</strong> face
            binding{confirming.face_count === 1 ? '' : 's'} are removed, and terminals that hold it lose it at their next sync.
            The faces themselves and their photos stay.
          </p>
          <button class="danger" id="confirm-delete-yes" onClick={() => remove(confirming)}>Delete {confirming.group_name}</button>
          <button onClick={() => setConfirming(null)}>Cancel</button>
        </div>
      )}
      {groups.data && (groups.data.groups.length === 0
        ? <p class="empty">No groups yet.</p>
        : (
          <table id="groups">
            <thead><tr><th>Group</th><th>Faces</th><th>Version</th><th>Last change</th><th>Created</th><th /></tr></thead>
            <tbody>
              {groups.data.groups.map((group) => (
                <tr key={group.group_name} data-group={group.group_name}>
                  <td><a href={groupLink(library, group.group_name)}>{group.group_name}</a></td>
                  <td class="num">{group.face_count}</td>
                  <td class="num">{group.version}</td>
                  <td title={when(group.updated_at)}>{ago(group.updated_at)}</td>
                  <td>{when(group.created_at)}</td>
                  <td>{editable && <button class="link danger" onClick={() => setConfirming(group)}>Delete…</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </section>
  );
}
