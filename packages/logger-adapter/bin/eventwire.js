#!/usr/bin/env node
// The published entry point: runs the compiled eventwire command (pub, sub, history, presence, tail).
import '../dist/cli.js';
