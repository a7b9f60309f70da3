// Face-add admission: which quality checks a face fails. Check names are the
// spec's own (新增Face quality table), so `BAD_QUALITY: <reason>` reads the
// same as the FacePass documentation.
import type { AdmissionPolicy } from '../config.js';
import type { Box, FaceQuality } from '../../models/engine.js';

export type AdmissionCheck = 'FaceMin' | 'Yaw' | 'Pitch' | 'Roll' | 'Blurriness' | 'Brightness' | 'Std_Deviation';

/** The checks the face fails, in the spec's order; empty when it is admitted. */
export function failedAdmissionChecks(box: Box, quality: FaceQuality, policy: AdmissionPolicy): AdmissionCheck[] {
  const failed: AdmissionCheck[] = [];
  // FaceMin: "长 >= 100px，宽 >= 100px", the equal sign included.
  if (Math.round(box.width) < policy.minFaceSize || Math.round(box.height) < policy.minFaceSize) failed.push('FaceMin');
  if (Math.abs(quality.yaw) > policy.maxYaw) failed.push('Yaw');
  if (Math.abs(quality.pitch) > policy.maxPitch) failed.push('Pitch');
  if (Math.abs(quality.roll) > policy.maxRoll) failed.push('Roll');
  if (quality.blur > policy.maxBlur) failed.push('Blurriness');
  if (quality.brightness < policy.minBrightness || quality.brightness > policy.maxBrightness) failed.push('Brightness');
  if (quality.brightnessStd > policy.maxBrightnessStd) failed.push('Std_Deviation');
  return failed;
}
