// The three thresholds of /api/service/config/v1 (recognize, compare,
// liveness), read and changed through that endpoint: a POST without fields
// answers the values in force; -1 restores a default.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from '../api.js';
import { capitalise, explain } from '../words.js';
import { SCORE_TABLE } from '../score-table.js';
import { useLoad } from './common.js';

interface Values {
  recognize_threshold: number;
  compare_threshold: number;
  liveness_threshold: number;
}

const FIELDS: Array<{ key: keyof Values; label: string; meaning: string; recommended: number }> = [
  { key: 'recognize_threshold', label: 'Recognize (1:N)', meaning: 'a search result at or above it names the person', recommended: 78 },
  { key: 'compare_threshold', label: 'Compare (1:1)', meaning: 'two photos scoring at or above it show the same person', recommended: 70 },
  { key: 'liveness_threshold', label: 'Liveness', meaning: 'a face scoring below it is taken for a photo or screen', recommended: 50 },
];

export function ThresholdsPage(props: { api: Api }) {
  const [values, setValues] = useState<Values | null>(null);
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');

  const send = async (fields: Record<string, string>) => {
    setError('');
    try {
      const answer = await props.api.call<Values>('POST', '/api/service/config/v1', new URLSearchParams(fields));
      setValues(answer);
      setDraft({});
      return true;
    } catch (err) {
      setError(err instanceof ApiError ? explain(err.message).reasons.map(capitalise).join('. ') : String(err));
      return false;
    }
  };
  useEffect(() => void send({}), []);
  const server = useLoad(() => props.api.get<{ models: Record<string, string> }>('/api/console/v1/server'), []);

  const save = async (event: Event) => {
    event.preventDefault();
    const changed = Object.fromEntries(Object.entries(draft).filter(([, v]) => v.trim() !== ''));
    if (await send(changed)) setMessage(`Saved ${Object.keys(changed).length} threshold${Object.keys(changed).length === 1 ? '' : 's'}.`);
  };
  return (
    <section>
      <h2>Thresholds</h2>
      <p class="hint">Scores run from 0 to 100. Raising a threshold refuses more strangers and more of the right people too.</p>
      {values && (
        <form class="card" id="thresholds" onSubmit={save}>
          <table>
            <thead><tr><th>Threshold</th><th>In force</th><th>New value</th><th>Recommended</th><th>Meaning</th></tr></thead>
            <tbody>
              {FIELDS.map((f) => (
                <tr key={f.key} data-threshold={f.key}>
                  <td>{f.label}</td>
                  <td class="num current">{values[f.key]}</td>
                  <td><input name={f.key} type="number" min="0" max="100" step="0.1" value={draft[f.key] ?? ''} placeholder={String(values[f.key])}
                    onInput={(e) => setDraft({ ...draft, [f.key]: e.currentTarget.value })} /></td>
                  <td class="num">{f.recommended} <button type="button" class="link" onClick={() => void send({ [f.key]: '-1' })}>restore</button></td>
                  <td class="hint">{f.meaning}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button id="save-thresholds" type="submit" disabled={Object.values(draft).every((v) => v.trim() === '')}>Save</button>
          {message && <span class="ok" id="thresholds-saved"> {message}</span>}
        </form>
      )}
      {error && <p class="error" id="thresholds-error">{error}</p>}
      {server.data && <Measured model={server.data.models.feature ?? ''} />}
    </section>
  );
}

/** The published FAR/FRR measurement, when it was made with the model this server runs. */
function Measured(props: { model: string }) {
  const t = SCORE_TABLE;
  if (props.model !== t.featureModel) {
    return (
      <p class="hint card" id="score-table">
        The published false-accept / false-reject measurement was made with feature model <code>{t.featureModel}</code>;
        this server runs <code>{props.model}</code>. Measure again with <code>npm run -s score-table</code>.
      </p>
    );
  }
  return (
    <div class="card" id="score-table">
      <h3>Measured false rejects and false accepts</h3>
      <p class="hint">
        On the project's test photos with this feature model (<code>{t.featureModel}</code>, {t.measured}; <code>npm run -s score-table</code>, README).
        False reject: a pair of photos of the same person scoring below the threshold. False accept: two different people at or above it.
      </p>
      <table>
        <thead>
          <tr>
            <th>Photos</th><th>Same / different pairs</th>
            {t.thresholds.map((v) => <th key={`r${v}`}>False rejects @{v}</th>)}
            {t.thresholds.map((v) => <th key={`a${v}`}>False accepts @{v}</th>)}
          </tr>
        </thead>
        <tbody>
          {t.rows.map((row) => (
            <tr key={row.set}>
              <td>{row.set}</td>
              <td class="num">{row.samePairs} / {row.differentPairs}</td>
              {t.thresholds.map((v) => <td key={`r${v}`} class="num">{row.frr[v]!.toFixed(1)}%</td>)}
              {t.thresholds.map((v) => <td key={`a${v}`} class="num">{row.far[v]!.toFixed(1)}%</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
