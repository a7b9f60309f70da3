// The three thresholds of /api/service/config/v1 (recognize, compare,
// liveness), read and changed through that endpoint: a POST without fields
// answers the values in force; -1 restores a default.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from '../api.js';
import { capitalise, explain } from '../words.js';

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
    </section>
  );
}
