// The shadow MMU engine: no import of vscode or DAP.
export * from './bits';
export { GuestMemory, type StoreHook } from './memory';
export { MODES, displayVa, shadowIndex, type PagingMode } from './paging';
export * from './walk';
export * from './shadow';
export * from './policy';
export * from './mmu';
export * from './audit';
export * from './machine';
export * from './oracle';
export * from './steps';
export { MachineEnv } from './env';
export { buildGuestImage, pteEntryAddress } from './setup';
export * from './tdp';
export * from './budget';
