/**
 * The version of DDColor's pre- and post-processing (ddcolor.ts, the composite kernel): outputs
 * made by another version look different and are made again (the manifest records it). 2: the
 * model input is shrunk like the official code and grayscale scans are read right (1: ddcolor
 * 0.1). Apart from the processing itself, so that the main thread judges an output up to date
 * without loading the pixel code and its tables.
 */
export const PROCESSING_VERSION = 2;
