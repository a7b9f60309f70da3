// A fake model upgrade for tests: the real engine with another feature model.
import { analyzeInPlace, type FaceEngine } from '../../models/engine.js';

/** The engine with another feature model: a new search_model and embeddings mapped through `map`. */
export function withFeatureModel(engine: FaceEngine, searchModel: string, map: (feature: Float32Array) => Float32Array): FaceEngine {
  const upgraded: FaceEngine = {
    searchModel,
    modelVersions: { ...engine.modelVersions, feature: searchModel },
    featureLength: engine.featureLength,
    decode: (bytes, limits) => engine.decode(bytes, limits),
    detect: (image) => engine.detect(image),
    quality: (image, face) => engine.quality(image, face),
    embed: async (image, face) => map(await engine.embed(image, face)),
    liveness: (image, face) => engine.liveness(image, face),
    attributes: (image, face) => engine.attributes(image, face),
    analyze: (bytes, request) => analyzeInPlace(upgraded, bytes, request),
    close: async () => {},
  };
  return upgraded;
}
