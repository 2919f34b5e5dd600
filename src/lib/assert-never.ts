/**
 * The `default` of a switch over a closed union: `x` has type `never` once every variant
 * has its case, so a new variant is a compile error instead of being dropped silently.
 */
export function assertNever(x: never): never {
  throw new Error(`unhandled variant: ${JSON.stringify(x)}`);
}
