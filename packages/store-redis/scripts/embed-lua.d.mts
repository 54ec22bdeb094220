/** The directory holding the .lua files. */
export declare const LUA_DIR: string;
/** The generated module's path. */
export declare const OUT_FILE: string;
/** The text of the generated module for the scripts in `dir` (default `LUA_DIR`). */
export declare function render(dir?: string): string;
