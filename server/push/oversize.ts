// §12: a message over MAX_PUSH_FRAME_BYTES is answered with a PushError and
// close 4413. `ws` refuses such a message from its frame header, before
// buffering it (which is what we want), but then closes with 1009 on its
// own before the application hears of it. So the one close call ws makes
// for it is turned into PushError + 4413 here. The hub itself never closes
// with 1009, so no other close is touched.
import type { WebSocket } from 'ws';
import { CloseCode, encodePushFrame, MAX_PUSH_FRAME_BYTES, PushFrameType } from '../../device-protocol/index.js';

/** RFC 6455 "Message Too Big", the code ws closes with for a message over maxPayload. */
const WS_MESSAGE_TOO_BIG = 1009;

export function answerOversizeWith4413(ws: WebSocket, onOversize: () => void = () => {}): void {
  const close = ws.close.bind(ws);
  ws.close = (code?: number, reason?: string | Buffer) => {
    if (code !== WS_MESSAGE_TOO_BIG) return close(code, reason);
    onOversize();
    const text = `message exceeds ${MAX_PUSH_FRAME_BYTES} bytes`;
    try {
      ws.send(encodePushFrame({ type: PushFrameType.Error, code: CloseCode.FrameTooLarge, reason: text }));
    } catch {
      // The close below still names the failure.
    }
    return close(CloseCode.FrameTooLarge, text);
  };
}
