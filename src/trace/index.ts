// The trace language: its AST and its parser.
export * from './ast';
export { parseTrace, TraceParser, KEYWORDS, SETUP_KEYWORDS, EVENT_KEYWORDS, PTE_FLAGS, MAX_LINE_LENGTH, MAX_SHADOW_PAGES, MAX_MAP_PAGES, MAX_VCPUS } from './parser';
export { parseNumber, hex } from './numbers';
export { didYouMean, editDistance } from './hints';
export { firstIndex } from './search';
