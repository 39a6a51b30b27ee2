#!/usr/bin/env node
// The published entry point: runs the compiled tail command.
import '../dist/tail.js';
