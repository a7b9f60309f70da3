// quality_control and liveness_control: the spec's thresholds (阈值说明) on
// what the engine measures. Occlusion has no model behind it and is not
// checked (README: not computed). Completeness is Baidu's 0/1: 1 when the
// whole face box lies inside the image.
import { ErrorCode, FaceError } from '../core/errors.js';
import type { AnalyzedFace } from '../core/face-analysis.js';
import type { ControlLevel, Controls } from './args.js';

type Level = Exclude<ControlLevel, 'NONE'>;

/** illumination (0-255, at least), blurdegree (0-1, at most), completeness (0/1, at least). */
const QUALITY: Record<Level, { illumination: number; blur: number; completeness: number }> = {
  LOW: { illumination: 20, blur: 0.8, completeness: 0 },
  NORMAL: { illumination: 40, blur: 0.6, completeness: 0 },
  HIGH: { illumination: 100, blur: 0.2, completeness: 1 },
};

/** Liveness score at least (活体控制阈值). */
export const LIVENESS: Record<Level, number> = { LOW: 0.05, NORMAL: 0.3, HIGH: 0.9 };

/** Baidu's completeness: 1 when the face box is inside the image (a hair of rounding allowed). */
export const completenessOf = (face: AnalyzedFace): 0 | 1 => (face.quality.completeness >= 0.999 ? 1 : 0);

/** Whether liveness must be measured for these controls. */
export const needsLiveness = (controls: Controls): boolean => controls.liveness !== 'NONE';

/** The first control the face fails, as a FaceError (BAD_QUALITY with the reason, or LIVENESS_FAILED); null when it passes. */
export function controlFailure(face: AnalyzedFace, controls: Controls): FaceError | null {
  if (controls.quality !== 'NONE') {
    const limits = QUALITY[controls.quality];
    const fail = (reason: string) => new FaceError(ErrorCode.BadQuality, `face fails quality control: ${reason}`, { reason });
    if (face.quality.brightness < limits.illumination) return fail('illumination');
    if (face.quality.blur > limits.blur) return fail('blur');
    if (completenessOf(face) < limits.completeness) return fail('completeness');
  }
  if (controls.liveness !== 'NONE') {
    const score = face.liveness ?? 0;
    if (score < LIVENESS[controls.liveness]) {
      return new FaceError(ErrorCode.LivenessFailed, `liveness ${score.toFixed(3)} below ${LIVENESS[controls.liveness]}`);
    }
  }
  return null;
}

export function assertControls(face: AnalyzedFace, controls: Controls): void {
  const failure = controlFailure(face, controls);
  if (failure) throw failure;
}
