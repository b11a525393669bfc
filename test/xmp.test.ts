/**
 * The output's XMP, from packets as other programs write them: Lightroom's (several namespaces,
 * bags, the attribute form), a scanner's (the element form, other prefixes), and awkward but valid
 * XML (CDATA holding markup, comments, single-quoted attributes holding quotes). Read back by
 * exiftool, an independent reader: the scan's own properties are all there with their values,
 * the two that described the scan are replaced once (whatever prefix they had), and ddcolor's
 * description is there.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DIGITAL_SOURCE_TYPE, xmpForOutput, type Provenance } from '../src/image/xmp.js';
import { cleanup, tempDir } from './helpers.js';

const PROVENANCE: Provenance = { software: 'ddcolor 0.2.0', modelName: 'tiny-512-int8', modelId: 'e983347272b8e218', inputSize: 512, saturation: 1, testModel: null };

/** A packet as Lightroom Classic writes one: attribute form, several namespaces, bags and alts. */
const LIGHTROOM = `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00        ">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
   xmp:CreatorTool="Adobe Photoshop Lightroom Classic 13.0 (Windows)"
   xmp:Rating="4"
   photoshop:City="Lucerne"
   xmpMM:DocumentID="xmp.did:7b1e4d2a-0c4f-4b4e-9d2a-1f0e9c1d2b3a"
   crs:Exposure2012="+0.35">
   <dc:title>
    <rdf:Alt>
     <rdf:li xml:lang="x-default">Lake &amp; pier, 1952</rdf:li>
    </rdf:Alt>
   </dc:title>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>family</rdf:li>
     <rdf:li>lake</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <dc:rights>
    <rdf:Alt>
     <rdf:li xml:lang="x-default">© Family archive</rdf:li>
    </rdf:Alt>
   </dc:rights>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>`;

/**
 * A scanner's packet: the element form, the XMP namespace under the old `xap` prefix, IPTC's
 * extension under another prefix, a comment, CDATA that holds `&` and `<`, and a
 * single-quoted attribute that holds double quotes.
 */
const SCANNER = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><!-- written by the scanner --><rdf:Description rdf:about="" xmlns:xap="http://ns.adobe.com/xap/1.0/" xmlns:ext="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:Headline='The "Lake" print'><xap:CreatorTool>VueScan 9.8.04</xap:CreatorTool><ext:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture</ext:DigitalSourceType><dc:description><rdf:Alt><rdf:li xml:lang="x-default"><![CDATA[Back says: Lake & pier, 1952 (a < b)]]></rdf:li></rdf:Alt></dc:description></rdf:Description></rdf:RDF></x:xmpmeta>`;

let dir: string;
before(async () => {
  dir = await tempDir();
});
after(cleanup);

/** Every XMP tag exiftool reads in the packet, by group:name; a duplicate as group:CopyN:name. */
async function read(packet: Uint8Array, name: string): Promise<Record<string, unknown>> {
  const path = join(dir, `${name}.xmp`);
  await writeFile(path, packet);
  const r = spawnSync('exiftool', ['-j', '-G1:4', '-a', '-struct', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<Record<string, unknown>>)[0]!;
}

/** The values of tags named `name` (any group), duplicates included. */
function values(tags: Record<string, unknown>, name: string): unknown[] {
  return Object.entries(tags)
    .filter(([k]) => k.split(':').pop() === name)
    .map(([, v]) => v);
}

test("Lightroom's packet: every property kept, the creator tool replaced once, ddcolor's description added", async () => {
  const tags = await read(xmpForOutput(Buffer.from(LIGHTROOM), PROVENANCE), 'lightroom');
  assert.deepEqual(values(tags, 'Title'), ['Lake & pier, 1952']);
  assert.deepEqual(values(tags, 'Subject'), [['family', 'lake']]);
  assert.deepEqual(values(tags, 'Rights'), ['© Family archive']);
  assert.deepEqual(values(tags, 'Rating'), [4]);
  assert.deepEqual(values(tags, 'City'), ['Lucerne']);
  assert.deepEqual(values(tags, 'DocumentID'), ['xmp.did:7b1e4d2a-0c4f-4b4e-9d2a-1f0e9c1d2b3a']);
  assert.deepEqual(values(tags, 'Exposure2012'), ['+0.35']);
  assert.deepEqual(values(tags, 'CreatorTool'), ['ddcolor 0.2.0']);
  assert.deepEqual(values(tags, 'DigitalSourceType'), [DIGITAL_SOURCE_TYPE]);
  assert.deepEqual(values(tags, 'Model'), ['tiny-512-int8']);
  assert.deepEqual(values(tags, 'ModelId'), ['e983347272b8e218']);
});

test("a scanner's packet with other prefixes, the element form, CDATA and quotes in an attribute: all kept, nothing doubled", async () => {
  const packet = xmpForOutput(Buffer.from(SCANNER), PROVENANCE);
  const tags = await read(packet, 'scanner');
  assert.deepEqual(values(tags, 'Description'), ['Back says: Lake & pier, 1952 (a < b)'], 'the CDATA text, whole');
  assert.deepEqual(values(tags, 'Headline'), ['The "Lake" print']);
  assert.deepEqual(values(tags, 'CreatorTool'), ['ddcolor 0.2.0'], "the scanner's, under the xap prefix, replaced");
  assert.deepEqual(values(tags, 'DigitalSourceType'), [DIGITAL_SOURCE_TYPE], "the scan's own, under another prefix, replaced");
  assert.deepEqual(values(tags, 'Model'), ['tiny-512-int8']);
  assert.match(Buffer.from(packet).toString('utf8'), /<!-- written by the scanner -->/, 'the comment kept');
});

test('no XMP, or XMP that is not XML: the output carries ddcolor\'s description alone, a packet exiftool reads', async () => {
  for (const [name, source] of [['none', null], ['broken', Buffer.from('<x:xmpmeta><rdf:RDF><rdf:Description dc:title="unclosed')]] as const) {
    const tags = await read(xmpForOutput(source, { ...PROVENANCE, testModel: 'tints photos sepia; does not colorize' }), name);
    assert.deepEqual(values(tags, 'CreatorTool'), ['ddcolor 0.2.0'], name);
    assert.deepEqual(values(tags, 'DigitalSourceType'), ['http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicallyEnhanced'], name);
    assert.deepEqual(values(tags, 'Model'), ['tiny-512-int8 (test model: tints photos sepia; does not colorize)'], name);
  }
});

test('CDATA that holds `</rdf:RDF>` stays whole, and ddcolor\'s description goes after it, into the real rdf:RDF', () => {
  const cdata = '<![CDATA[notes: </rdf:RDF> is only text here]]>';
  const source = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:source>${cdata}</dc:source></rdf:Description></rdf:RDF></x:xmpmeta>`;
  const out = Buffer.from(xmpForOutput(Buffer.from(source), PROVENANCE)).toString('utf8');
  const at = out.indexOf(cdata);
  assert.ok(at >= 0, out);
  const ours = out.indexOf('<rdf:Description xmlns:rdf=');
  assert.ok(ours > at + cdata.length, `ddcolor's description after the CDATA: ${out}`);
  assert.equal(out.slice(ours).match(/<\/rdf:RDF>/g)?.length, 1, 'and inside the one real rdf:RDF');
  assert.ok(out.endsWith('/></rdf:RDF></x:xmpmeta>'), out);
});
