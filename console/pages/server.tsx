// The server itself: version, models, uptime, store size, faces, push.
import type { Api, ServerFacts } from '../api.js';
import { bytes, duration, when } from '../format.js';
import { ErrorLine, useInterval, useLoad } from './common.js';

export function ServerPage(props: { api: Api }) {
  const facts = useLoad(() => props.api.get<ServerFacts>('/api/console/v1/server'), []);
  useInterval(facts.reload, 5000);
  const f = facts.data;
  return (
    <section>
      <h2>Server</h2>
      <ErrorLine error={facts.error} />
      {f && (
        <div class="cards" id="server-facts">
          <dl class="card">
            <dt>Version</dt><dd id="server-version">{f.version}</dd>
            <dt>Up for</dt><dd>{duration(f.uptime_s)} <span class="hint">(since {when(f.started_at)})</span></dd>
            <dt>Store on disk</dt><dd>{bytes(f.store_bytes)}</dd>
          </dl>
          <dl class="card">
            <dt>Libraries</dt><dd>{f.libraries}</dd>
            <dt>Groups</dt><dd>{f.groups}</dd>
            <dt>Faces bound in groups</dt><dd>{f.bindings}</dd>
            <dt>Terminals seen</dt><dd>{f.terminals}</dd>
            <dt>Push connections</dt><dd>{f.push_connections} <span class="hint">({f.push_ready} past their hello)</span></dd>
          </dl>
          <dl class="card">
            {Object.entries(f.models).map(([name, version]) => (
              <>
                <dt>{name === 'feature' ? 'Feature model' : `Model: ${name}`}</dt>
                <dd><code>{version}</code></dd>
              </>
            ))}
          </dl>
        </div>
      )}
    </section>
  );
}
