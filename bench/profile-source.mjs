// Where a profiled function lives, as the profile summaries group it
// (cpu-profile-summary.mjs, heap-profile-summary.mjs): node internals by
// module, packages by name and path, the rest as is.

/** A call frame's URL as a short file name. */
export function fileOf(url) {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return url;
  const pkg = /\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (pkg) return `${pkg[1]}/${pkg[2]}`;
  const own = /\/packages\/([^/]+)\/(.*)$/.exec(url);
  if (own) return `@eventwire/${own[1]}/${own[2]}`;
  return url.replace(/^file:\/\//, '');
}

/** The package (or node: module) a fileOf name belongs to. */
export const packageOf = (file) =>
  file.startsWith('node:') ? 'node:' + file.slice(5).split('/')[0] : file.startsWith('(') ? file : file.split('/').slice(0, file.startsWith('@') ? 2 : 1).join('/');
