// Public surface of the core's 1:N search: the index kept equal to the
// store, the search service the dialects call, and the score scale.
export { FaceIndex, type FaceIndexOptions, type FaceIndexStats, type IndexedGroup } from './face-index.js';
export { SearchService, MAX_QUERY_FACES, MAX_SEARCH_GROUPS, MAX_TOP_N, type SearchMatch, type SearchRequest } from './search-service.js';
export { cosineOfScore, scoreOfCosine, SCORE_KNOTS } from './score.js';
