import { testReadmeExample } from './readme-example.js';

testReadmeExample(new URL('../', import.meta.url), ['created o1 for 42', 'shipped o1 via ups', 'refused: invalid_payload']);

// The root README's quickstart is examples/quickstart.ts.
testReadmeExample(new URL('../', import.meta.url), ['order.created o1'], {
  readme: new URL('../../../README.md', import.meta.url),
  example: new URL('../examples/quickstart.ts', import.meta.url),
});
