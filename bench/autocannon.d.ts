// autocannon ships no type declarations; bench/serve-load.ts uses a few fields of its result.
declare module 'autocannon';
