// Faces as Baidu reports them (人脸检测 返回结果). Only fields with a model
// behind them; the rest are listed in the README's compatibility table.
import type { Expression, Point } from '../../models/engine.js';
import type { AnalyzedFace } from '../core/face-analysis.js';
import { completenessOf } from './controls.js';

/** face_field values with a model behind them. Others are accepted and left out (README). */
export const COMPUTED_FIELDS = ['age', 'gender', 'expression', 'emotion', 'eye_status', 'landmark', 'quality', 'feature'] as const;
export type FaceField = (typeof COMPUTED_FIELDS)[number];

/** Every word the spec lists for face_field (and the SDK's spellings faceshape, facetype). */
const KNOWN_FIELDS = new Set<string>([
  ...COMPUTED_FIELDS,
  'beauty', 'face_shape', 'faceshape', 'glasses', 'race', 'face_type', 'facetype', 'parsing', 'lip_language', 'spoofing', 'landmark72', 'landmark150', 'mask', 'liveness',
]);

/** The computed fields asked for; null when a word is unknown (the caller reports param[face_field]). */
export function parseFaceFields(raw: string | undefined): Set<FaceField> | null {
  const fields = new Set<FaceField>();
  if (raw === undefined) return fields;
  for (const word of raw.split(',').map((w) => w.trim().toLowerCase()).filter((w) => w !== '')) {
    if (!KNOWN_FIELDS.has(word)) return null;
    if ((COMPUTED_FIELDS as readonly string[]).includes(word)) fields.add(word as FaceField);
  }
  return fields;
}

/** Whether any asked field needs the attribute models. */
export const needsAttributes = (fields: ReadonlySet<FaceField>): boolean =>
  fields.has('age') || fields.has('gender') || fields.has('expression') || fields.has('emotion') || fields.has('eye_status');

/** The expression model's 7 classes are Baidu's 7 emotion types, under Baidu's names. */
const EMOTION: Record<Expression, string> = {
  angry: 'angry',
  disgusted: 'disgust',
  fearful: 'fear',
  happy: 'happy',
  sad: 'sad',
  surprised: 'surprise',
  neutral: 'neutral',
};

const round = (value: number, digits = 8) => Number(value.toFixed(digits));

export function location(face: AnalyzedFace) {
  return {
    left: round(face.box.left, 4),
    top: round(face.box.top, 4),
    width: Math.round(face.box.width),
    height: Math.round(face.box.height),
    // The box's clockwise turn from upright is the in-plane roll.
    rotation: Math.round(face.quality.roll),
  };
}

const mean = (points: Point[]): { x: number; y: number } => ({
  x: round(points.reduce((sum, p) => sum + p[0], 0) / points.length, 2),
  y: round(points.reduce((sum, p) => sum + p[1], 0) / points.length, 2),
});

/** Baidu's 4 points from the 68: left eye centre, right eye centre (image left first), nose tip, mouth centre. */
function landmark4(points: Point[]) {
  if (points.length < 68) return [];
  return [mean(points.slice(36, 42)), mean(points.slice(42, 48)), mean([points[30]!]), mean(points.slice(48, 68))];
}

/** One face of detect / liveness. */
export function faceJson(face: AnalyzedFace, fields: ReadonlySet<FaceField>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    face_token: face.faceToken,
    location: location(face),
    face_probability: round(face.score),
    angle: { yaw: round(face.quality.yaw), pitch: round(face.quality.pitch), roll: round(face.quality.roll) },
  };
  const attributes = face.attributes;
  if (attributes) {
    if (fields.has('age')) out.age = round(attributes.age, 2);
    if (fields.has('gender')) {
      const probability = attributes.gender === 'male' ? attributes.genderScore : 1 - attributes.genderScore;
      out.gender = { type: attributes.gender, probability: round(probability) };
    }
    if (fields.has('emotion')) out.emotion = { type: EMOTION[attributes.expression], probability: round(attributes.expressionScore) };
    if (fields.has('expression')) {
      // Derived from the emotion: a happy face smiles; the model cannot tell a laugh from a smile, so "laugh" never appears.
      const smiling = attributes.expression === 'happy';
      out.expression = { type: smiling ? 'smile' : 'none', probability: round(attributes.expressionScore) };
    }
    if (fields.has('eye_status')) {
      out.eye_status = { left_eye: round(attributes.eyes.left.score), right_eye: round(attributes.eyes.right.score) };
    }
  }
  if (fields.has('landmark')) out.landmark = landmark4(face.landmarks);
  if (fields.has('quality')) {
    out.quality = {
      blur: round(face.quality.blur),
      illumination: Math.round(face.quality.brightness),
      completeness: completenessOf(face),
    };
  }
  if (fields.has('feature')) {
    out.feature = Buffer.from(face.feature.buffer, face.feature.byteOffset, face.feature.byteLength).toString('base64');
  }
  if (face.liveness !== undefined) out.liveness = { livemapscore: round(face.liveness) };
  return out;
}
