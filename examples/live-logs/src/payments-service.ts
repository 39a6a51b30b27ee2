import { EventChannel } from '@eventwire/event-channel';
import { captureConsole, createEventLogger, logEvents } from '@eventwire/logger-adapter';

/**
 * A payments service that only logs: a structured logger plus captured
 * console output, both streaming as log.<level>.payments events.
 */
export function startPaymentsService(url: string) {
  const channel = new EventChannel({ url, events: logEvents, source: 'payments' });
  const log = createEventLogger({ channel, service: 'payments', level: 'debug' });
  const restoreConsole = captureConsole(log);
  let round = 0;
  return {
    /** One round of a payment's life, at every level. */
    async work(): Promise<void> {
      round++;
      const request = log.child({ requestId: `req-${round}` });
      request.debug('validating card for order {orderId}', { orderId: `o${round}` });
      // Money in whole cents, shown with two decimals: 19.99 * 10 in floating point is 199.89999999999998.
      const amount = ((1999 * round) / 100).toFixed(2);
      request.info('charged {amount} EUR for {orderId}', { orderId: `o${round}`, amount, card: { number: '4242…', token: 'tok_secret' } });
      if (round % 2 === 0) request.warn('gateway slow: {ms} ms', { ms: 800 + round });
      if (round % 3 === 0) {
        request.error('refund failed', new Error('gateway timeout', { cause: new Error('socket hang up') }));
      }
      // Plain console, captured too (colour codes are stripped there); coloured only on a terminal.
      console.log(process.stdout.isTTY ? '\u001b[32mround %d done\u001b[39m' : 'round %d done', round);
      await log.flush();
    },
    async close(): Promise<void> {
      restoreConsole();
      await log.flush();
      await channel.close();
    },
  };
}
