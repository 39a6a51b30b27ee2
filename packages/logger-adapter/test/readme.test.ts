import { testReadmeExample } from '../../event-channel/test/readme-example.js';

testReadmeExample(new URL('../', import.meta.url), [
  "[info] charged 42 for o1 { amount: 42, orderId: 'o1', card: { token: '[redacted]' } }",
  "[error] refund failed { requestId: 'r7' }",
  '[warn] retrying in 200 ms {}',
]);
