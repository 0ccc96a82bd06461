/** One step of an upgrade. A strategy is a list of these; one engine runs any list. */
export type Step =
  | { kind: 'provision' }
  | { kind: 'verify' }
  | { kind: 'register' }
  | { kind: 'approval' }
  | { kind: 'shift'; percent: number }
  | { kind: 'bake'; duration: string; analysis?: boolean }
  | { kind: 'drain' }
  | { kind: 'keepWarm'; duration: string }
  | { kind: 'retire' };

/** How a step reads in status, the timeline and the UI. */
export function describeStep(step: Step, names: { green: string; blue: string[] }): string {
  const blue = names.blue.join(', ') || 'blue';
  switch (step.kind) {
    case 'provision':
      return `provision ${names.green}`;
    case 'verify':
      return `verify ${names.green} (version, workers, smoke queries)`;
    case 'register':
      return `register ${names.green} inactive in the gateway`;
    case 'approval':
      return 'wait for approval';
    case 'shift':
      return step.percent === 100 ? `shift 100% to ${names.green}` : `shift ${step.percent}% to ${names.green}`;
    case 'bake':
      return step.analysis ? `bake ${step.duration} with analysis` : `bake ${step.duration}`;
    case 'drain':
      return `drain ${blue}`;
    case 'keepWarm':
      return `keep ${blue} warm ${step.duration}`;
    case 'retire':
      return `retire ${blue}`;
  }
}

/** "trino-blue serves" / "blue-a, blue-b serve": names with a verb that agrees. */
export function namesWith(names: string[], singular: string, plural: string): string {
  return `${names.join(', ') || 'blue'} ${names.length === 1 ? singular : plural}`;
}
