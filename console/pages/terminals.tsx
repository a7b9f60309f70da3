// Every terminal that synced: per group its version against the server's
// (lag), last sync, result, bytes, encoding, and whether it listens on the
// push channel now. Polled every two seconds (the list is small and the
// answer cheap); sortable by any column; stale terminals marked.
import { useState } from 'preact/hooks';
import type { Api, TerminalRow } from '../api.js';
import { ago, bytes, when } from '../format.js';
import { ErrorLine, useInterval, useLoad } from './common.js';

const POLL_MS = 2000;

type Key = 'device' | 'ip' | 'last_sync' | 'lag' | 'connected' | 'bytes' | 'stale';

const maxLag = (t: TerminalRow) => Math.max(0, ...t.groups.map((g) => g.lag ?? 0));
const sortValue = (t: TerminalRow, key: Key): string | number => {
  switch (key) {
    case 'lag': return maxLag(t);
    case 'connected': return t.connected ? 1 : 0;
    case 'stale': return t.stale ? 1 : 0;
    case 'bytes': return t.bytes ?? -1;
    default: return t[key];
  }
};

export function TerminalsPage(props: { api: Api }) {
  const list = useLoad(() => props.api.get<{ terminals: TerminalRow[] }>('/api/console/v1/terminals'), []);
  const [sort, setSort] = useState<{ key: Key; down: boolean }>({ key: 'last_sync', down: true });
  useInterval(list.reload, POLL_MS);
  const rows = [...(list.data?.terminals ?? [])].sort((a, b) => {
    const x = sortValue(a, sort.key);
    const y = sortValue(b, sort.key);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return sort.down ? -order : order;
  });
  const header = (key: Key, label: string) => (
    <th class="sortable" data-sort={key} onClick={() => setSort({ key, down: sort.key === key ? !sort.down : true })}>
      {label}{sort.key === key ? (sort.down ? ' ▼' : ' ▲') : ''}
    </th>
  );
  return (
    <section>
      <h2>Terminals</h2>
      <p class="hint">Every device that synced, updated every {POLL_MS / 1000} s. Lag is how many versions a group on the terminal is behind the server.</p>
      <ErrorLine error={list.error} />
      {list.data && rows.length === 0 && <p class="empty" id="no-terminals">No terminal has synced yet.</p>}
      {rows.length > 0 && (
        <table id="terminals">
          <thead>
            <tr>
              {header('device', 'Device')}
              {header('ip', 'Address')}
              {header('connected', 'Push')}
              {header('last_sync', 'Last sync')}
              {header('lag', 'Groups (device / server)')}
              {header('bytes', 'Bytes')}
              <th>Encoding</th>
              <th>Software</th>
              {header('stale', 'State')}
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr key={t.device} data-device={t.device} class={t.stale ? 'stale' : ''}>
                <td><strong>{t.device}</strong></td>
                <td>{t.ip}</td>
                <td>{t.connected ? <span class="dot on" title="connected to the push channel">connected</span> : <span class="dot off">offline</span>}</td>
                <td title={when(t.last_sync)}>{ago(t.last_sync)}</td>
                <td>
                  {t.groups.map((g) => (
                    <div key={g.group_name} class={g.lag ? 'lagging' : ''}>
                      {g.group_name}: {g.device_version} / {g.server_version ?? 'deleted'}
                      {g.lag ? <strong> ({g.lag} behind)</strong> : g.server_version === null ? '' : ' ✓'}
                      {g.result_code !== 0 && <span class="error"> last sync failed</span>}
                    </div>
                  ))}
                </td>
                <td class="num">{bytes(t.bytes)}</td>
                <td>{t.feature_encoding ?? '—'}</td>
                <td>{t.client_version}</td>
                <td>{t.stale ? <span class="badge stale">stale</span> : <span class="badge ok">ok</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
