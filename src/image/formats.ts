/**
 * The output formats, their names on the command line and their extensions: what the options,
 * the fleet's jobs and the output plan need, without loading the encoder (sharp).
 */
export type OutputFormat = 'png' | 'jpg' | 'webp' | 'tiff' | 'gif';
export const FORMAT_CHOICES = ['same', 'png', 'jpg', 'webp', 'tiff'] as const;
export type FormatChoice = (typeof FORMAT_CHOICES)[number];

/** The format implied by a file's extension (before decoding), for output names. */
export function formatFromExtension(ext: string): OutputFormat | null {
  switch (ext.toLowerCase()) {
    case '.jpg':
    case '.jpeg':
      return 'jpg';
    case '.png':
      return 'png';
    case '.webp':
      return 'webp';
    case '.tif':
    case '.tiff':
      return 'tiff';
    case '.gif':
      return 'gif';
    default:
      return null;
  }
}

export const EXTENSION: Record<OutputFormat, string> = { png: '.png', jpg: '.jpg', webp: '.webp', tiff: '.tiff', gif: '.gif' };
