import { testReadmeExample } from './readme-example.js';

testReadmeExample(new URL('../', import.meta.url), ['created o1 for 42', 'shipped o1 via ups', 'refused: invalid_payload']);
