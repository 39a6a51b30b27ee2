import { testReadmeExample } from '../../event-channel/test/readme-example.js';

testReadmeExample(new URL('../', import.meta.url), ['review requested for o1', 'refused: rejected (total must be positive)']);
