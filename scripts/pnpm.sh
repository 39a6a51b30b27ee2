#!/bin/sh
# Runs the pinned pnpm on a machine that has only Node and npm.
# Corepack would be the usual route, but it refuses registries that serve no
# package signatures; npx fetches the same pinned version from the npm registry.
exec npx --yes pnpm@10.34.9 "$@"
