/** A value inside parsed JSON by a dotted path ('actor.user.name'); undefined where the path ends. */
export const at = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);
