// Private and presence channels, and the rules that guard them, declared the
// way Laravel's routes/channels.php declares them.
import { EventwireError, isWildcardPattern, parsePattern } from '@eventwire/event-channel';
import type { BrokerUser } from './authenticate.js';

/**
 * The kind of a channel (a topic) by its name: `private-…` and `presence-…`
 * are guarded by rules; `$…` (`$sys.stats`) is the broker's own, guarded the
 * same way and never published to by clients; anything else is public.
 */
export type ChannelKind = 'public' | 'private' | 'presence' | 'system';

/** The kind of a topic or pattern, by its first segment's prefix. */
export function channelKind(name: string): ChannelKind {
  // One character first: the common (public) case costs two comparisons.
  const first = name.charCodeAt(0);
  if (first === 36 /* $ */) return 'system';
  if (first !== 112 /* p */) return 'public';
  if (name.startsWith('private-')) return 'private';
  if (name.startsWith('presence-')) return 'presence';
  return 'public';
}

/** `'private-user.{userId}'` → `{ userId: string }`: the params a template names. */
export type ChannelParams<TTemplate extends string> = TTemplate extends `${string}{${infer Name}}${infer Rest}`
  ? { readonly [K in Name | keyof ChannelParams<Rest>]: string }
  : {};

/** What a presence channel's members see of one member: what its rule returned (Laravel's user array). */
export type MemberInfo = Readonly<Record<string, unknown>>;

/**
 * Decides whether `user` may use one channel; may be async. Throwing or
 * timing out denies. On a presence channel an object means yes, and is the
 * member info the other members see.
 */
export type ChannelRule<TTemplate extends string = string> = (
  user: BrokerUser | undefined,
  params: ChannelParams<TTemplate>,
  channel: string,
) => boolean | MemberInfo | Promise<boolean | MemberInfo>;

interface CompiledRule {
  readonly template: string;
  readonly segments: ReadonlyArray<{ readonly literal: string } | { readonly param: string }>;
  readonly rule: ChannelRule;
}

/**
 * The broker's channel rules. A private or presence channel is allowed only
 * when a rule matches its name and says yes (default deny, anonymous users
 * included unless a rule lets them); public channels need no rule.
 * Wildcards never reach guarded channels: a pattern naming one must be exact,
 * and the router never delivers a guarded channel's events through a wildcard.
 */
export class ChannelRules {
  readonly #rules: CompiledRule[] = [];
  readonly #timeoutMs: number;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Adds a rule for channels matching `template` (`{name}` is one whole segment). */
  add(template: string, rule: ChannelRule): () => void {
    // The grammar of captures in patterns: `{name}` a whole segment, no name
    // twice (`invalid_pattern`, problem `invalid_capture` / `duplicate_capture`).
    const { captures } = parsePattern(template);
    const segments = template.split('.').map((segment, index) => {
      const param = captures?.[index];
      return param === undefined ? { literal: segment } : { param };
    });
    const compiled: CompiledRule = { template, segments, rule };
    this.#rules.push(compiled);
    return () => {
      const index = this.#rules.indexOf(compiled);
      if (index >= 0) this.#rules.splice(index, 1);
    };
  }

  /** The templates of the rules added so far, in order (a generated AsyncAPI document's guarded channels). */
  templates(): readonly string[] {
    return [...new Set(this.#rules.map((compiled) => compiled.template))];
  }

  /**
   * Throws `forbidden` unless `user` may use `name` (a subscription
   * pattern or a publish topic). Public names pass at once. Resolves with the
   * member info a rule returned (an object instead of `true`).
   */
  async authorize(user: BrokerUser | undefined, name: string): Promise<MemberInfo | undefined> {
    if (channelKind(name) === 'public') return undefined;
    if (isWildcardPattern(name)) {
      throw new EventwireError('forbidden', `"${name}": a private or presence channel is subscribed by its exact name, never by a wildcard`);
    }
    const parts = name.split('.');
    for (const compiled of this.#rules) {
      const params = matchTemplate(compiled, parts);
      if (!params) continue;
      let answer: boolean | MemberInfo = false;
      try {
        answer = await withTimeout(Promise.resolve(compiled.rule(user, params as never, name)), this.#timeoutMs);
      } catch {
        answer = false; // a rule that throws or hangs denies
      }
      if (answer === true) return undefined;
      if (typeof answer === 'object' && answer !== null && !Array.isArray(answer)) return answer;
      throw new EventwireError('forbidden', `Not allowed on "${name}"`);
    }
    throw new EventwireError('forbidden', `No rule allows "${name}"`);
  }
}

function matchTemplate(compiled: CompiledRule, parts: readonly string[]): Record<string, string> | undefined {
  if (parts.length !== compiled.segments.length) return undefined;
  const params: [string, string][] = [];
  for (let i = 0; i < parts.length; i++) {
    const segment = compiled.segments[i]!;
    if ('literal' in segment) {
      if (segment.literal !== parts[i]) return undefined;
    } else params.push([segment.param, parts[i]!]);
  }
  // Own fields whatever the names (a param named __proto__ included).
  return Object.fromEntries(params);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error('rule timed out')), ms))),
  ]).finally(() => clearTimeout(timer));
}
