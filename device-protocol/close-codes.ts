// WebSocket close codes of the push channel, in one place so server and
// terminal agree. 4000-4999 is the range RFC 6455 leaves to applications;
// the last three digits echo the nearest HTTP status where there is one.

export const CloseCode = {
  /** Orderly close (terminal shutting down, `TerminalClient.close()`). */
  Normal: 1000,
  /** The server is shutting down or restarting; reconnect with backoff. */
  GoingAway: 1001,
  /** Unexpected server failure; reconnect with backoff. */
  InternalError: 1011,
  /** A message could not be decoded, had an unknown critical type, or came out of order (e.g. no hello first). */
  BadFrame: 4400,
  /** Missing or wrong `Authorization` key. The terminal keeps retrying, but only at the maximum backoff. */
  Unauthorized: 4401,
  /** No protocol version both sides speak. The terminal keeps retrying, but only at the maximum backoff. */
  ProtocolVersionUnsupported: 4408,
  /** Another connection with the same device id replaced this one. */
  Superseded: 4409,
  /** A message exceeded MAX_PUSH_FRAME_BYTES (checked before decoding). */
  FrameTooLarge: 4413,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Codes after which reconnecting at once cannot help: the terminal waits the
 * full maximum backoff instead of hammering the server.
 */
export const SLOW_RETRY_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.Unauthorized,
  CloseCode.ProtocolVersionUnsupported,
  CloseCode.Superseded,
]);
