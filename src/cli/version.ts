/**
 * The version `notary-hsm --version` prints. A module of its own so that bin/notary-hsm
 * answers `--version` from this file without loading the command line's bundle.
 */
export const VERSION = '0.1.0';
