// The console's shell: sign-in, the navigation, and a hash router
// (#/groups, #/group/LIBRARY/NAME, #/face/TOKEN, #/test, #/thresholds,
// #/terminals, #/server), so the
// server serves one page and a reload stays where it was.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Api, ApiError, type Session } from './api.js';
import { GroupsPage } from './pages/groups.js';
import { GroupPage } from './pages/group.js';
import { FacePage } from './pages/face.js';
import { TerminalsPage } from './pages/terminals.js';
import { ServerPage } from './pages/server.js';
import { TestPage } from './pages/test.js';
import { ThresholdsPage } from './pages/thresholds.js';

const api = new Api();

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}

function SignIn(props: { notice: string; onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      props.onSignedIn(await api.signIn(key));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 403
        ? 'The device key cannot sign in here. Use the admin key.'
        : err instanceof ApiError && err.status === 401 ? 'That key is not the admin key.' : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} class="card">
        <h1>FacePass console</h1>
        {props.notice && <p class="notice" id="signin-notice">{props.notice}</p>}
        <label>
          Admin key
          <input id="admin-key" type="password" autocomplete="current-password" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        <button id="signin" type="submit" disabled={busy || key.length === 0}>Sign in</button>
        {error && <p class="error" id="signin-error">{error}</p>}
        <p class="hint">The admin key is in the server's data folder (<code>admin.key</code>) or its <code>ADMIN_KEY</code> setting.</p>
      </form>
    </main>
  );
}

function Page(props: { hash: string }) {
  const [, route = 'groups', ...rest] = props.hash.replace(/^#/, '').split('/');
  const args = rest.map((part) => decodeURIComponent(part));
  switch (route) {
    case 'group':
      // #/group/LIBRARY/NAME, or #/group/NAME in the default library.
      return args.length >= 2
        ? <GroupPage api={api} library={args[0]!} name={args[1]!} />
        : <GroupPage api={api} library="default" name={args[0] ?? ''} />;
    case 'face':
      return <FacePage api={api} token={args[0] ?? ''} />;
    case 'terminals':
      return <TerminalsPage api={api} />;
    case 'server':
      return <ServerPage api={api} />;
    case 'test':
      return <TestPage api={api} />;
    case 'thresholds':
      return <ThresholdsPage api={api} />;
    default:
      return <GroupsPage api={api} library={args[0] || 'default'} />;
  }
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState('');
  const hash = useHash();
  useEffect(() => {
    api.onSignedOut(() => {
      api.setSession(null);
      setNotice('Your session has ended. Sign in again.');
      setSession(null);
    });
    api.currentSession().then((current) => {
      api.setSession(current);
      setSession(current);
    }, () => setSession(null));
  }, []);
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) {
    return <SignIn notice={notice} onSignedIn={(s) => { api.setSession(s); setNotice(''); setSession(s); }} />;
  }
  const route = hash.split('/')[1] ?? 'groups';
  const signOut = async () => {
    try {
      await api.signOut();
    } finally {
      api.setSession(null);
      setNotice('Signed out.');
      setSession(null);
    }
  };
  const tab = (name: string, label: string, active: boolean) => (
    <a href={`#/${name}`} class={active ? 'active' : ''} id={`nav-${name}`}>{label}</a>
  );
  return (
    <>
      <header>
        <strong>FacePass console</strong>
        <nav>
          {tab('groups', 'Groups', route === 'groups' || route === 'group' || route === 'face' || route === '')}
          {tab('test', 'Test', route === 'test')}
          {tab('thresholds', 'Thresholds', route === 'thresholds')}
          {tab('terminals', 'Terminals', route === 'terminals')}
          {tab('server', 'Server', route === 'server')}
        </nav>
        <button id="signout" class="link" onClick={signOut}>Sign out</button>
      </header>
      <main>
        <Page hash={hash} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
