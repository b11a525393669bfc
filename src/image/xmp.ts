/**
 * The output's XMP: the scan's own (title, description, keywords, rights...) with a description
 * of what ddcolor did added: IPTC's Digital Source Type for a photo edited with a trained model,
 * the software that made it, and the model (name, id) and its input size. A scan's own Digital
 * Source Type and Creator Tool are replaced (they described the scan, not this file).
 *
 * The scan's packet is edited as XML (fast-xml-parser), never with patterns: a packet written by
 * another program (Lightroom, a scanner's software) with other prefixes, CDATA, comments or the
 * other RDF form keeps all of it.
 */
import { createRequire } from 'node:module';

type FastXmlParser = typeof import('fast-xml-parser');
let fxp: FastXmlParser | undefined;

/**
 * fast-xml-parser, loaded at the first scan with a packet to edit, and from its one-file CommonJS
 * build: its ES module build is some 40 modules, which every pixel thread loaded at its start
 * (about a fifth of a thread's start here) for scans that mostly carry no XMP.
 */
function xml(): FastXmlParser {
  return (fxp ??= createRequire(import.meta.url)('fast-xml-parser') as FastXmlParser);
}

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

/** ddcolor's rdf:Description (declaring rdf itself: a scan's packet may bind another prefix to it). */
function description(p: Provenance): string {
  return (
    `<rdf:Description xmlns:rdf="${RDF_NS}" rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:ddcolor="${DDCOLOR_NS}"` +
    ` Iptc4xmpExt:DigitalSourceType="${p.testModel ? TEST_SOURCE_TYPE : DIGITAL_SOURCE_TYPE}" xmp:CreatorTool="${escape(p.software)}"` +
    ` ddcolor:Model="${escape(p.testModel ? `${p.modelName} (test model: ${p.testModel})` : p.modelName)}" ddcolor:ModelId="${escape(p.modelId)}" ddcolor:InputSize="${p.inputSize}" ddcolor:Saturation="${p.saturation}"/>`
  );
}

/** Namespaces, by URI: what a prefix means is what its `xmlns:` declaration in scope says. */
const RDF_NS = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#';
const IPTC_EXT_NS = 'http://iptc.org/std/Iptc4xmpExt/2008-02-29/';
const XMP_NS = 'http://ns.adobe.com/xap/1.0/';

/** Properties of the scan's XMP that described the scan itself, whatever prefix they carry, in either RDF form. */
const REPLACED = new Set([`${IPTC_EXT_NS}DigitalSourceType`, `${XMP_NS}CreatorTool`]);

/**
 * fast-xml-parser in its order-keeping form, text left as written (entities, whitespace, CDATA,
 * comments and processing instructions such as `<?xpacket?>`), so that what ddcolor does not edit
 * is written back as it was.
 */
const XML_OPTIONS = {
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  processEntities: false,
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  cdataPropName: '#cdata',
  commentPropName: '#comment',
  suppressEmptyNode: true,
} as const;

/** A node of the parsed tree: `{ [tag]: children, ':@': attributes }`, or a text, CDATA or comment node. */
type XmlNode = Record<string, unknown>;
type Scope = ReadonlyMap<string, string>;

function tagOf(node: XmlNode): string | null {
  const tag = Object.keys(node).find((k) => k !== ':@');
  return tag && !tag.startsWith('#') && !tag.startsWith('?') ? tag : null;
}

function childrenOf(node: XmlNode, tag: string): XmlNode[] {
  return node[tag] as XmlNode[];
}

function attributesOf(node: XmlNode): Record<string, string> {
  return (node[':@'] as Record<string, string> | undefined) ?? {};
}

/** The scope inside an element: the outer one plus the element's own `xmlns:` declarations. */
function scopeOf(node: XmlNode, outer: Scope): Scope {
  const declared = Object.entries(attributesOf(node)).filter(([k]) => k.startsWith('@_xmlns:'));
  if (declared.length === 0) return outer;
  const scope = new Map(outer);
  for (const [k, uri] of declared) scope.set(k.slice('@_xmlns:'.length), uri);
  return scope;
}

/** `prefix:local` as namespace URI + local name; null for a name without a prefix or an unknown one. */
function expanded(name: string, scope: Scope): string | null {
  const colon = name.indexOf(':');
  const uri = colon > 0 ? scope.get(name.slice(0, colon)) : undefined;
  return uri === undefined ? null : uri + name.slice(colon + 1);
}

/** A scan's rdf:Description without the properties ddcolor replaces, as attributes or as elements. */
function stripReplaced(description: XmlNode, tag: string, scope: Scope): void {
  const attrs = attributesOf(description);
  for (const name of Object.keys(attrs)) {
    const full = expanded(name.slice(2), scope);
    if (full && REPLACED.has(full)) delete attrs[name];
  }
  const kept = childrenOf(description, tag).filter((child) => {
    const t = tagOf(child);
    const full = t ? expanded(t, scopeOf(child, scope)) : null;
    return !(full && REPLACED.has(full));
  });
  description[tag] = kept;
}

/** Quotes inside attribute values written with single quotes: escaped, since the builder writes double quotes. */
function escapeQuotes(nodes: XmlNode[]): void {
  for (const node of nodes) {
    const attrs = node[':@'] as Record<string, string> | undefined;
    if (attrs) for (const [k, v] of Object.entries(attrs)) if (v.includes('"')) attrs[k] = v.replace(/"/g, '&quot;');
    const tag = tagOf(node);
    if (tag) escapeQuotes(childrenOf(node, tag));
  }
}

/** Find the rdf:RDF element (by namespace, not by prefix), edit its descriptions and add ours; false when there is none. */
function addDescription(nodes: XmlNode[], outer: Scope, ours: XmlNode): boolean {
  for (const node of nodes) {
    const tag = tagOf(node);
    if (!tag) continue;
    const scope = scopeOf(node, outer);
    const children = childrenOf(node, tag);
    if (expanded(tag, scope) === `${RDF_NS}RDF`) {
      for (const child of children) {
        const t = tagOf(child);
        const inner = scopeOf(child, scope);
        if (t && expanded(t, inner) === `${RDF_NS}Description`) stripReplaced(child, t, inner);
      }
      children.push(ours);
      return true;
    }
    if (addDescription(children, scope, ours)) return true;
  }
  return false;
}

/** A packet of ddcolor's description alone. */
function packetOf(ours: string): Uint8Array {
  return Buffer.from(
    `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="${RDF_NS}">${ours}</rdf:RDF></x:xmpmeta><?xpacket end="w"?>`,
    'utf8',
  );
}

/**
 * The output's XMP packet, from the scan's (or from nothing): the scan's packet, parsed as XML,
 * keeps everything but the two properties that described the scan, and gains ddcolor's
 * description. A scan's XMP that is not well-formed XML cannot be edited safely: the output then
 * carries ddcolor's description alone (the scan itself is never changed).
 */
export function xmpForOutput(source: Uint8Array | null, p: Provenance): Uint8Array {
  const ours = description(p);
  const text = source ? Buffer.from(source).toString('utf8').replace(/\0+$/, '') : '';
  if (!text) return packetOf(ours);
  const { XMLBuilder, XMLParser, XMLValidator } = xml();
  if (XMLValidator.validate(text) !== true) return packetOf(ours);
  const tree = new XMLParser(XML_OPTIONS).parse(text) as XmlNode[];
  const [oursNode] = new XMLParser(XML_OPTIONS).parse(ours) as XmlNode[];
  if (!oursNode || !addDescription(tree, new Map(), oursNode)) return packetOf(ours);
  escapeQuotes(tree);
  return Buffer.from(new XMLBuilder(XML_OPTIONS).build(tree) as string, 'utf8');
}
