import onnxProto from 'onnx-proto'; const { onnx } = onnxProto; import fs from 'fs';
const m = onnx.ModelProto.decode(fs.readFileSync(process.argv[2]));
for (const n of m.graph.node.slice(0, +process.argv[3])) console.log(n.opType, n.input.join(','), '->', n.output.join(','), n.attribute.map(a=>a.name+'='+(a.ints?.length?a.ints.join('/'):a.t? 'T'+a.t.dims+':'+(a.t.rawData?.length<=16?Array.from(a.t.rawData):''):a.i??a.f)).join(' '));
