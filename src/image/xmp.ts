/**
 * The output's XMP: the scan's own (title, description, keywords, rights...) with a description
 * of what ddcolor did added: IPTC's Digital Source Type for a photo edited with a trained model,
 * the software that made it, and the model (name, id) and its input size. A scan's own Digital
 * Source Type and Creator Tool are replaced (they described the scan, not this file).
 */

/** IPTC's term for media made by editing a photo with a trained algorithmic model. */
export const DIGITAL_SOURCE_TYPE = 'http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia';
/** IPTC's term for a photo altered by an algorithm, not a trained model: what ddcolor's test networks do (a tint). */
export const TEST_SOURCE_TYPE = 'http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicallyEnhanced';
export const DDCOLOR_NS = 'https://github.com/ddcolor/ns/1.0/';

export interface Provenance {
  /** `ddcolor 0.2.0` */
  software: string;
  modelName: string;
  modelId: string;
  inputSize: number;
  /** The chroma scale the output was composited with (1: the model's colours). */
  saturation: number;
  /** Made by one of ddcolor's test networks: what it does instead ("tints photos sepia; does not colorize"). */
  testModel?: string | null;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** ddcolor's rdf:Description. */
function description(p: Provenance): string {
  return (
    `<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:ddcolor="${DDCOLOR_NS}"` +
    ` Iptc4xmpExt:DigitalSourceType="${p.testModel ? TEST_SOURCE_TYPE : DIGITAL_SOURCE_TYPE}" xmp:CreatorTool="${escape(p.software)}"` +
    ` ddcolor:Model="${escape(p.testModel ? `${p.modelName} (test model: ${p.testModel})` : p.modelName)}" ddcolor:ModelId="${escape(p.modelId)}" ddcolor:InputSize="${p.inputSize}" ddcolor:Saturation="${p.saturation}"/>`
  );
}

/** Properties of the scan's XMP that described the scan itself, in either RDF form. */
const REPLACED = ['Iptc4xmpExt:DigitalSourceType', 'xmp:CreatorTool'];

function withoutReplaced(xmp: string): string {
  let out = xmp;
  for (const name of REPLACED) {
    out = out.replace(new RegExp(`\\s${name}="[^"]*"`, 'g'), '');
    out = out.replace(new RegExp(`<${name}(\\s[^>]*)?>[\\s\\S]*?</${name}>`, 'g'), '');
    out = out.replace(new RegExp(`<${name}(\\s[^>]*)?/>`, 'g'), '');
  }
  return out;
}

/** The output's XMP packet, from the scan's (or from nothing). */
export function xmpForOutput(source: Uint8Array | null, p: Provenance): Uint8Array {
  const ours = description(p);
  const text = source ? Buffer.from(source).toString('utf8') : '';
  if (text.includes('</rdf:RDF>')) {
    return Buffer.from(withoutReplaced(text).replace('</rdf:RDF>', `${ours}</rdf:RDF>`), 'utf8');
  }
  return Buffer.from(
    `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">${ours}</rdf:RDF></x:xmpmeta><?xpacket end="w"?>`,
    'utf8',
  );
}
