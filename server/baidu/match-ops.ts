// Face comparison of the Baidu dialect (人脸对比; cloud match): two image
// objects, each with its own controls; the score is the core's one 0-100
// scale (core/search/score.ts).
import { cosineSimilarity } from '../../models/engine.js';
import type { FaceAnalysis } from '../core/face-analysis.js';
import { scoreOfCosine } from '../core/search/score.js';
import { controlArgs, imageArg } from './args.js';
import type { BaiduCall, BaiduHandler } from './call.js';
import { singleFace } from './image-faces.js';
import { imageObjects } from './vision-ops.js';

export interface MatchOpsDeps {
  analysis: FaceAnalysis;
}

export function matchOps(deps: MatchOpsDeps) {
  const match: BaiduHandler = async (call) => {
    const items = imageObjects(call, (n) => n === 2);
    const [a, b] = [
      await singleFace(deps.analysis, call.library, imageArg(items[0]!), controlArgs(items[0]!)),
      await singleFace(deps.analysis, call.library, imageArg(items[1]!), controlArgs(items[1]!)),
    ];
    return {
      score: Number(scoreOfCosine(cosineSimilarity(a.feature, b.feature)).toFixed(8)),
      face_list: [{ face_token: a.faceToken }, { face_token: b.faceToken }],
    };
  };
  return { match } satisfies Record<string, (call: BaiduCall) => Promise<unknown>>;
}
