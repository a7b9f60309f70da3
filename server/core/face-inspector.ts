// One face as the console's face page shows it: the record (live or
// deleted, which is its history), the photo's size, the landmarks, and the
// groups it is bound to with when and as whom. Landmarks are not stored, so
// they are found again on the stored photo (one detection, on an image that
// already passed the enrolment limits); the detection that overlaps the
// stored rect most is the face.
import type { DecodeLimits, FaceEngine, Point } from '../../models/engine.js';
import type { FaceRecord, FaceStore, Rect } from '../../storage/store.js';
import type { FaceToken } from './ids.js';
import { ErrorCode, FaceError } from './errors.js';
import { boxToRect } from './geometry.js';

export interface FaceGroupView {
  library: string;
  groupName: string;
  boundAt: number;
  userId?: string;
  userInfo?: string;
}

export interface FaceDetail {
  face: Omit<FaceRecord, 'feature'>;
  image: { width: number; height: number };
  /** Found again on the photo; empty when the detector no longer finds the face there. */
  landmarks: Point[];
  groups: FaceGroupView[];
}

/** Intersection over union of two rects. */
export function overlap(a: Rect, b: Rect): number {
  const w = Math.max(0, Math.min(a.right, b.right) - Math.max(a.left, b.left));
  const h = Math.max(0, Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top));
  const inter = w * h;
  const area = (r: Rect) => Math.max(0, r.right - r.left) * Math.max(0, r.bottom - r.top);
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** Below this overlap a detection is some other face, not the stored one. */
const SAME_FACE_IOU = 0.5;

export class FaceInspector {
  constructor(
    private readonly engine: FaceEngine,
    private readonly store: FaceStore,
    private readonly limits: DecodeLimits,
  ) {}

  async inspect(token: FaceToken): Promise<FaceDetail> {
    const face = await this.store.getFace(token);
    if (!face) throw new FaceError(ErrorCode.FaceTokenNotFound, `face_token ${token} does not exist`);
    const image = await this.store.getImage(face.imageId);
    if (!image) throw new FaceError(ErrorCode.Internal, `image ${face.imageId} of face ${token} is missing`);
    const { feature: _feature, ...record } = face;
    const [landmarks, groups] = await Promise.all([this.landmarks(image.bytes, face.rect), this.groups(token)]);
    return { face: record, image: { width: image.width, height: image.height }, landmarks, groups };
  }

  private async landmarks(bytes: Uint8Array, rect: Rect): Promise<Point[]> {
    // Detection only (no measures asked): one engine call, one worker task.
    const analysis = await this.engine.analyze(bytes, { limits: this.limits });
    let best: { iou: number; points: Point[] } = { iou: SAME_FACE_IOU, points: [] };
    for (const detected of analysis.faces) {
      const iou = overlap(boxToRect(detected.box, analysis.width, analysis.height), rect);
      if (iou >= best.iou) best = { iou, points: detected.landmarks };
    }
    return best.points;
  }

  private async groups(token: FaceToken): Promise<FaceGroupView[]> {
    const groups = await this.store.groupsOfFace(token);
    const bindings = await Promise.all(groups.map((group) => this.store.getBindings(group.groupId, [token])));
    return groups.flatMap((group, i) => {
      const binding = bindings[i]?.[0];
      if (!binding) return []; // unbound between the two reads
      return [{ library: group.library, groupName: group.name, boundAt: binding.boundAt, userId: binding.userId, userInfo: binding.userInfo }];
    });
  }
}
