/** Workflow entry point bundled for the worker: deterministic code only. */
export { blueGreenUpgrade } from './blue-green';
export { canaryUpgrade } from './canary';
export { upgradeLease } from './lease';
export { fleetUpgrade } from './fleet';
