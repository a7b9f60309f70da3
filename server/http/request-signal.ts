// An AbortSignal per request for the face engine: it fires when the client
// goes away before its answer is written (the work would be thrown away), or
// when the request's deadline passes (a photo may not hold a worker without
// bound). The engine checks it between model runs (FaceError ABORTED).
import type { Context } from 'koa';

export function requestSignal(ctx: Context, deadlineMs: number): AbortSignal {
  const gone = new AbortController();
  const onClose = () => {
    if (!ctx.res.writableFinished) gone.abort(new Error('client closed the connection'));
  };
  ctx.res.once('close', onClose);
  return AbortSignal.any([gone.signal, AbortSignal.timeout(deadlineMs)]);
}
