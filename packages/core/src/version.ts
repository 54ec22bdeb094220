/** The version of Oasis this core is, as nodes report it. */
export const OASIS_VERSION = '0.1.0';
