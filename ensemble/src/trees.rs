//! A fast `ai.onnx.ml` `TreeEnsembleClassifier` for tract.
//!
//! tract-onnx 0.23 evaluates this operator correctly but walks its whole leaf table for every
//! leaf it reaches (`outer_iter().skip(start)`), so 300 trees × 500 rows take over a minute
//! (docs/trees-in-tract.md). [`onnx`] returns tract's ONNX framework with this module's parser
//! registered for `TreeEnsembleClassifier` instead: the same attributes, the same results
//! (equal to onnxruntime to ~1e-7), evaluated over a compact node array.
//!
//! Semantics follow the ONNX spec and onnxruntime:
//! - every `BRANCH_*` mode, per node; a node goes to its true child when the comparison holds
//!   or the feature is NaN and `nodes_missing_value_tracks_true` is set (so a NaN goes false
//!   except for that flag and for `BRANCH_NEQ`);
//! - a leaf adds each of its `class_weights` to its class's score (aggregate SUM), then
//!   `base_values` are added, then `post_transform` (NONE, SOFTMAX, LOGISTIC) applies;
//! - `label` is the class label of the highest score (the first one on ties).
//!
//! Not supported (refused at load with an error): binary classifiers whose leaves carry one
//! weight for two labels (the onnxmltools binary layout), `PROBIT` / `SOFTMAX_ZERO`, string
//! class labels, and the `*_as_tensor` (double) attributes of ai.onnx.ml opset 3.

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{NodeProto, TensorProto};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::Onnx;

/// tract's ONNX framework with the fast tree-ensemble operator registered.
pub fn onnx() -> Onnx {
    let mut onnx = tract_onnx::onnx();
    onnx.op_register
        .insert("TreeEnsembleClassifier", parse_tree_ensemble_classifier);
    onnx
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
}

impl Mode {
    fn parse(s: &str) -> Option<Option<Mode>> {
        Some(match s {
            "BRANCH_LEQ" => Some(Mode::Leq),
            "BRANCH_LT" => Some(Mode::Lt),
            "BRANCH_GTE" => Some(Mode::Gte),
            "BRANCH_GT" => Some(Mode::Gt),
            "BRANCH_EQ" => Some(Mode::Eq),
            "BRANCH_NEQ" => Some(Mode::Neq),
            "LEAF" => None,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PostTransform {
    None,
    Softmax,
    Logistic,
}

/// One node, 16 bytes: compare `x[feature & FEATURE_MASK]` with `value`, go to `a` (true) or
/// `b` (false); the `NAN_TRUE` bit of `feature` sends a NaN feature to `a`.
/// A leaf points to itself (`a == b ==` its own index, feature 0), so a walk can take a fixed
/// or shared number of steps without a per-row branch; its votes are in `Forest::leaf_votes`.
#[derive(Clone, Copy, Debug)]
struct Node {
    feature: u32,
    value: f32,
    a: u32,
    b: u32,
}

const NAN_TRUE: u32 = 1 << 31;
const FEATURE_MASK: u32 = NAN_TRUE - 1;

/// Rows walked together through one tree (measured: 8 → 1.39 ms, 16 → 1.17, 32 → 1.04,
/// 64 → 1.02 for the 300-tree XGBoost model on 500 rows).
const BLOCK: usize = 32;

/// The parsed forest: nodes of every tree in one array (children as absolute indices).
#[derive(Debug)]
pub struct Forest {
    nodes: Vec<Node>,
    /// Per node: the comparison (leaves: `Mode::Leq`, irrelevant as both children are itself).
    modes: Vec<Mode>,
    /// Every branch uses this comparison (the common case: one mode for the whole model).
    single_mode: Option<Mode>,
    roots: Vec<u32>,
    /// Per tree: the most steps from its root to a leaf.
    tree_depth: Vec<u32>,
    /// Per node: the range of `votes` that the node adds when the walk ends there.
    leaf_votes: Vec<(u32, u32)>,
    votes: Vec<(u32, f32)>,
    labels: Vec<i64>,
    base: Vec<f32>,
    post: PostTransform,
    n_features: usize,
}

impl Forest {
    pub fn n_classes(&self) -> usize {
        self.labels.len()
    }

    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Number of features the trees read (the highest feature id + 1).
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// onnxruntime's rule: the comparison holds, or the feature is NaN and the node sends
    /// missing values to the true side.
    #[inline(always)]
    fn go_true<const M: u8>(&self, ix: usize, x: f32, v: f32, nan_true: bool) -> bool {
        let holds = match M {
            1 => x <= v,
            2 => x < v,
            _ => match self.modes[ix] {
                Mode::Leq => x <= v,
                Mode::Lt => x < v,
                Mode::Gte => x >= v,
                Mode::Gt => x > v,
                Mode::Eq => x == v,
                Mode::Neq => x != v,
            },
        };
        // `|` and `&`, not `||` / `&&`: no branch (a branch here costs 3x on the benchmark).
        holds | (x.is_nan() & nan_true)
    }

    #[inline(always)]
    fn step<const M: u8>(&self, ix: u32, row: &[f32]) -> u32 {
        // SAFETY: every node index (roots and children) was checked to be < nodes.len() at
        // parse, every feature < n_features <= row.len() (asserted in `eval`).
        let node = unsafe { *self.nodes.get_unchecked(ix as usize) };
        let x = unsafe { *row.get_unchecked((node.feature & FEATURE_MASK) as usize) };
        if self.go_true::<M>(ix as usize, x, node.value, node.feature & NAN_TRUE != 0) {
            node.a
        } else {
            node.b
        }
    }

    #[inline(always)]
    fn add_votes(&self, ix: u32, scores: &mut [f32]) {
        let (from, to) = self.leaf_votes[ix as usize];
        for &(class, weight) in &self.votes[from as usize..to as usize] {
            scores[class as usize] += weight;
        }
    }

    /// Adds every tree's votes to `out` (`[rows, classes]`). Blocks of `BLOCK` rows walk each
    /// tree together, each row for the tree's depth (a leaf loops on itself): the walks are
    /// independent, so the CPU overlaps their loads, and the step count is the same for every
    /// row (no mispredicted exit). Each row still sums its trees in order.
    /// `M`: 1 every branch `<=`, 2 every branch `<`, 0 per-node modes.
    fn accumulate<const M: u8>(&self, rows: &[f32], n_cols: usize, out: &mut [f32]) {
        let k = self.n_classes();
        for (rows, scores) in rows.chunks(BLOCK * n_cols).zip(out.chunks_mut(BLOCK * k)) {
            let n = scores.len() / k;
            let mut idx = [0u32; BLOCK];
            for (&root, &depth) in self.roots.iter().zip(&self.tree_depth) {
                idx[..n].fill(root);
                for _ in 0..depth {
                    for (j, ix) in idx[..n].iter_mut().enumerate() {
                        *ix = self.step::<M>(*ix, &rows[j * n_cols..]);
                    }
                }
                for (j, &ix) in idx[..n].iter().enumerate() {
                    self.add_votes(ix, &mut scores[j * k..]);
                }
            }
        }
    }

    /// Scores of `input` (row-major, `n_cols >= n_features` columns): labels and the
    /// post-transformed scores (probabilities for SOFTMAX), row-major `[rows, n_classes]`.
    pub fn eval(&self, input: &[f32], n_cols: usize) -> (Vec<i64>, Vec<f32>) {
        assert!(
            n_cols >= self.n_features.max(1),
            "{n_cols} columns for {} features",
            self.n_features
        );
        let k = self.n_classes();
        let n_rows = input.len() / n_cols;
        let mut out = vec![0f32; n_rows * k];
        match self.single_mode {
            Some(Mode::Leq) => self.accumulate::<1>(input, n_cols, &mut out),
            Some(Mode::Lt) => self.accumulate::<2>(input, n_cols, &mut out),
            _ => self.accumulate::<0>(input, n_cols, &mut out),
        }
        let mut labels = Vec::with_capacity(n_rows);
        for scores in out.chunks_exact_mut(k) {
            for (s, b) in scores.iter_mut().zip(&self.base) {
                *s += b;
            }
            let mut best = 0;
            for (j, s) in scores.iter().enumerate() {
                if *s > scores[best] {
                    best = j;
                }
            }
            labels.push(self.labels[best]);
            match self.post {
                PostTransform::None => (),
                PostTransform::Softmax => {
                    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut sum = 0f32;
                    for s in scores.iter_mut() {
                        *s = (*s - max).exp();
                        sum += *s;
                    }
                    for s in scores.iter_mut() {
                        *s /= sum;
                    }
                }
                PostTransform::Logistic => {
                    for s in scores.iter_mut() {
                        *s = 1.0 / (1.0 + (-*s).exp());
                    }
                }
            }
        }
        (labels, out)
    }
}

fn attr_ints<'a>(node: &'a NodeProto, name: &str, n: Option<usize>) -> TractResult<&'a [i64]> {
    let v = node.get_attr_slice::<i64>(name)?;
    if let Some(n) = n {
        node.expect_attr(name, v.len() == n, || {
            format!("length {n}, got {}", v.len())
        })?;
    }
    Ok(v)
}

fn to_u32(node: &NodeProto, name: &str, v: i64) -> TractResult<u32> {
    match u32::try_from(v) {
        Ok(u) if u != u32::MAX => Ok(u),
        _ => node.bail_attr(name, &format!("value {v} out of range")),
    }
}

/// Builds the forest from the operator's attributes.
pub fn parse_forest(node: &NodeProto) -> TractResult<Forest> {
    for unsupported in [
        "nodes_values_as_tensor",
        "class_weights_as_tensor",
        "base_values_as_tensor",
    ] {
        if node.get_attr_opt::<&TensorProto>(unsupported)?.is_some() {
            node.bail_attr(unsupported, "double attributes are not supported")?;
        }
    }
    if node
        .get_attr_opt_slice::<Vec<u8>>("classlabels_strings")?
        .is_some()
    {
        node.bail_attr("classlabels_strings", "string labels are not supported")?;
    }
    let labels = attr_ints(node, "classlabels_int64s", None)?.to_vec();
    let k = labels.len();
    node.expect_attr("classlabels_int64s", k >= 1, "at least one class")?;

    let n = node.get_attr_slice::<i64>("nodes_nodeids")?.len();
    node.expect_attr("nodes_nodeids", n > 0, "at least one node")?;
    let tree_ids = attr_ints(node, "nodes_treeids", Some(n))?;
    let node_ids = attr_ints(node, "nodes_nodeids", Some(n))?;
    let feature_ids = attr_ints(node, "nodes_featureids", Some(n))?;
    let true_ids = attr_ints(node, "nodes_truenodeids", Some(n))?;
    let false_ids = attr_ints(node, "nodes_falsenodeids", Some(n))?;
    let values = node.get_attr_slice::<f32>("nodes_values")?;
    node.expect_attr("nodes_values", values.len() == n, "one value per node")?;
    let modes: Vec<Option<Mode>> = node
        .get_attr_tvec::<&str>("nodes_modes")?
        .iter()
        .map(|m| Mode::parse(m).ok_or_else(|| format_err!("unsupported node mode {m}")))
        .collect::<TractResult<_>>()?;
    node.expect_attr("nodes_modes", modes.len() == n, "one mode per node")?;
    let missing_true = node.get_attr_opt_slice::<i64>("nodes_missing_value_tracks_true")?;
    if let Some(m) = missing_true {
        node.expect_attr(
            "nodes_missing_value_tracks_true",
            m.len() == n,
            "one flag per node",
        )?;
    }

    let leaf_tree = attr_ints(node, "class_treeids", None)?;
    let n_votes = leaf_tree.len();
    let leaf_node = attr_ints(node, "class_nodeids", Some(n_votes))?;
    let leaf_class = attr_ints(node, "class_ids", Some(n_votes))?;
    let leaf_weight = node.get_attr_slice::<f32>("class_weights")?;
    node.expect_attr(
        "class_weights",
        leaf_weight.len() == n_votes,
        "one weight per vote",
    )?;

    // Binary layout (2 labels, weights for one class only): onnxruntime derives the other
    // class's score; not needed here (3 classes), refused rather than computed wrongly.
    if k == 2 && leaf_class.iter().all(|&c| c == leaf_class[0]) {
        node.bail("binary classifiers with one weight per leaf are not supported")?;
    }

    // Map (tree, node id) -> dense index, trees in order of first appearance.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (tree_ids[i], node_ids[i]));
    let mut index = std::collections::HashMap::with_capacity(n);
    for (dense, &i) in order.iter().enumerate() {
        if index
            .insert((tree_ids[i], node_ids[i]), dense as u32)
            .is_some()
        {
            node.bail(&format!(
                "duplicate node {} in tree {}",
                node_ids[i], tree_ids[i]
            ))?;
        }
    }
    let mut vote_order: Vec<usize> = (0..n_votes).collect();
    vote_order.sort_by_key(|&i| (leaf_tree[i], leaf_node[i]));
    let mut votes = Vec::with_capacity(n_votes);
    let mut vote_range = vec![(0u32, 0u32); n];
    for &v in &vote_order {
        let Some(&dense) = index.get(&(leaf_tree[v], leaf_node[v])) else {
            node.bail(&format!(
                "vote for missing node {} of tree {}",
                leaf_node[v], leaf_tree[v]
            ))?
        };
        let class = usize::try_from(leaf_class[v])
            .ok()
            .filter(|&c| c < k)
            .ok_or_else(|| format_err!("class id {} out of range", leaf_class[v]))?;
        let r = &mut vote_range[dense as usize];
        if r.1 == 0 {
            r.0 = votes.len() as u32;
        } else if r.1 != votes.len() as u32 {
            node.bail("votes of a leaf are not contiguous")?;
        }
        votes.push((class as u32, leaf_weight[v]));
        r.1 = votes.len() as u32;
    }

    let mut nodes = Vec::with_capacity(n);
    let mut node_modes = Vec::with_capacity(n);
    let mut roots = vec![];
    let mut single_mode = None;
    let mut mixed = false;
    let mut n_features = 0usize;
    let mut prev_tree = None;
    for &i in &order {
        if prev_tree != Some(tree_ids[i]) {
            // the lowest node id of a tree is its root (0 for every known exporter)
            roots.push(nodes.len() as u32);
            prev_tree = Some(tree_ids[i]);
        }
        let child = |ids: &[i64], name: &str| -> TractResult<u32> {
            index.get(&(tree_ids[i], ids[i])).copied().ok_or_else(|| {
                format_err!("{name}: node {} of tree {} not found", ids[i], tree_ids[i])
            })
        };
        match modes[i] {
            Some(mode) => {
                let feature = to_u32(node, "nodes_featureids", feature_ids[i])?;
                node.expect_attr(
                    "nodes_featureids",
                    feature <= FEATURE_MASK,
                    "feature ids < 2^31",
                )?;
                n_features = n_features.max(feature as usize + 1);
                let nan = if missing_true.is_some_and(|m| m[i] != 0) {
                    NAN_TRUE
                } else {
                    0
                };
                nodes.push(Node {
                    feature: feature | nan,
                    value: values[i],
                    a: child(true_ids, "nodes_truenodeids")?,
                    b: child(false_ids, "nodes_falsenodeids")?,
                });
                node_modes.push(mode);
                match single_mode {
                    None if !mixed => single_mode = Some(mode),
                    Some(m) if m != mode => {
                        single_mode = None;
                        mixed = true
                    }
                    _ => (),
                }
            }
            None => {
                let own = nodes.len() as u32;
                nodes.push(Node {
                    feature: 0,
                    value: 0.0,
                    a: own,
                    b: own,
                });
                node_modes.push(Mode::Leq);
            }
        }
    }
    // Every walk must end on a leaf: children must lie after their parent within the tree
    // (true of every exporter: preorder ids); refuse anything else rather than loop forever.
    for (ix, nd) in nodes.iter().enumerate() {
        let leaf = nd.a as usize == ix && nd.b as usize == ix;
        if !leaf && (nd.a as usize <= ix || nd.b as usize <= ix) {
            node.bail("a child node id is not greater than its parent's")?;
        }
    }

    // Depths: children come after their parent (checked above), one pass in node order.
    let mut depth = vec![0u32; nodes.len()];
    for (ix, nd) in nodes.iter().enumerate() {
        if nd.a as usize != ix {
            depth[nd.a as usize] = depth[ix] + 1;
        }
        if nd.b as usize != ix {
            depth[nd.b as usize] = depth[ix] + 1;
        }
    }
    let mut tree_depth = vec![0u32; roots.len()];
    for (t, &root) in roots.iter().enumerate() {
        let end = roots.get(t + 1).map_or(nodes.len(), |&r| r as usize);
        tree_depth[t] = depth[root as usize..end].iter().copied().max().unwrap_or(0);
    }

    let base = match node.get_attr_opt_slice::<f32>("base_values")? {
        Some(b) => {
            node.expect_attr("base_values", b.len() == k, "one base value per class")?;
            b.to_vec()
        }
        None => vec![0.0; k],
    };
    let post = match node
        .get_attr_opt::<&str>("post_transform")?
        .unwrap_or("NONE")
    {
        "NONE" => PostTransform::None,
        "SOFTMAX" => PostTransform::Softmax,
        "LOGISTIC" => PostTransform::Logistic,
        other => node.bail_attr("post_transform", &format!("{other} is not supported"))?,
    };
    Ok(Forest {
        nodes,
        modes: node_modes,
        single_mode: if mixed { None } else { single_mode },
        roots,
        tree_depth,
        leaf_votes: vote_range,
        votes,
        labels,
        base,
        post,
        n_features,
    })
}

fn parse_tree_ensemble_classifier(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let forest = Arc::new(parse_forest(node)?);
    Ok((expand(FastTreeEnsembleClassifier { forest }), vec![]))
}

/// The operator: input `[N, F]` float, outputs `label` `[N]` i64 and scores `[N, classes]` f32.
#[derive(Clone, Debug)]
pub struct FastTreeEnsembleClassifier {
    pub forest: Arc<Forest>,
}

impl PartialEq for FastTreeEnsembleClassifier {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.forest, &other.forest)
    }
}
impl Eq for FastTreeEnsembleClassifier {}

impl Expansion for FastTreeEnsembleClassifier {
    fn name(&self) -> StaticName {
        "FastTreeEnsembleClassifier".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(2)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 2)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].datum_type, DatumType::I64)?;
        s.equals(&outputs[1].datum_type, DatumType::F32)?;
        s.equals(&outputs[0].rank, 1)?;
        s.equals(&outputs[1].rank, 2)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[1].shape[1], self.forest.n_classes().to_dim())?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(
            prefix,
            TreeEnsembleOp {
                forest: self.forest.clone(),
            },
            inputs,
        )
    }
}

/// The typed operator that the plan runs.
#[derive(Clone, Debug)]
pub struct TreeEnsembleOp {
    pub forest: Arc<Forest>,
}

impl PartialEq for TreeEnsembleOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.forest, &other.forest)
    }
}
impl Eq for TreeEnsembleOp {}

impl Op for TreeEnsembleOp {
    fn name(&self) -> StaticName {
        "FastTreeEnsembleClassifier".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} trees, {} nodes, {} classes",
            self.forest.n_trees(),
            self.forest.nodes.len(),
            self.forest.n_classes()
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for TreeEnsembleOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let input = input.cast_to::<f32>()?;
        let shape = input.shape();
        ensure!(
            shape.len() == 2,
            "tree ensemble input must be [rows, features], got {shape:?}"
        );
        let (n_rows, n_cols) = (shape[0], shape[1]);
        ensure!(
            n_cols >= self.forest.n_features,
            "input has {n_cols} features, the trees read feature #{}",
            self.forest.n_features - 1
        );
        let data = input.try_as_plain_ram()?;
        let data = data.as_slice::<f32>()?;
        let (labels, scores) = self.forest.eval(data, n_cols);
        let labels = Tensor::from_shape(&[n_rows], &labels)?;
        let scores = Tensor::from_shape(&[n_rows, self.forest.n_classes()], &scores)?;
        Ok(tvec!(labels.into_tvalue(), scores.into_tvalue()))
    }
}

impl TypedOp for TreeEnsembleOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let n = inputs[0].shape[0].clone();
        Ok(tvec!(
            i64::fact([n.clone()]),
            f32::fact([n, self.forest.n_classes().to_dim()])
        ))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb::attribute_proto::AttributeType;
    use tract_onnx::pb::AttributeProto;

    fn ints(name: &str, v: &[i64]) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Ints as i32,
            ints: v.to_vec(),
            ..Default::default()
        }
    }
    fn floats(name: &str, v: &[f32]) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Floats as i32,
            floats: v.to_vec(),
            ..Default::default()
        }
    }
    fn strings(name: &str, v: &[&str]) -> AttributeProto {
        let strings = v.iter().map(|s| s.as_bytes().to_vec()).collect();
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Strings as i32,
            strings,
            ..Default::default()
        }
    }
    fn string(name: &str, v: &str) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::String as i32,
            s: v.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    /// Tree 0: node 0 `x0 MODE 1.0` -> leaf 1 (class 0 +1.0) / leaf 2 (class 1 +1.0, class 2 +0.5).
    /// Tree 1: a single leaf voting class 2 +0.25.
    fn node(mode: &str, missing_true: i64, post: &str, labels: &[i64]) -> NodeProto {
        NodeProto {
            op_type: "TreeEnsembleClassifier".into(),
            domain: "ai.onnx.ml".into(),
            attribute: vec![
                ints("classlabels_int64s", labels),
                ints("nodes_treeids", &[0, 0, 0, 1]),
                ints("nodes_nodeids", &[0, 1, 2, 0]),
                ints("nodes_featureids", &[0, 0, 0, 0]),
                floats("nodes_values", &[1.0, 0.0, 0.0, 0.0]),
                strings("nodes_modes", &[mode, "LEAF", "LEAF", "LEAF"]),
                ints("nodes_truenodeids", &[1, 0, 0, 0]),
                ints("nodes_falsenodeids", &[2, 0, 0, 0]),
                ints("nodes_missing_value_tracks_true", &[missing_true, 0, 0, 0]),
                ints("class_treeids", &[0, 0, 0, 1]),
                ints("class_nodeids", &[1, 2, 2, 0]),
                ints("class_ids", &[0, 1, 2, 2]),
                floats("class_weights", &[1.0, 1.0, 0.5, 0.25]),
                floats("base_values", &[0.0, 0.0, 0.125]),
                string("post_transform", post),
            ],
            ..Default::default()
        }
    }

    fn scores(mode: &str, missing_true: i64, x: f32) -> Vec<f32> {
        let forest = parse_forest(&node(mode, missing_true, "NONE", &[0, 1, 2])).unwrap();
        forest.eval(&[x], 1).1
    }

    const TRUE: [f32; 3] = [1.0, 0.0, 0.375];
    const FALSE: [f32; 3] = [0.0, 1.0, 0.875];

    #[test]
    fn modes_at_the_threshold() {
        assert_eq!(scores("BRANCH_LEQ", 0, 1.0), TRUE);
        assert_eq!(scores("BRANCH_LT", 0, 1.0), FALSE);
        assert_eq!(scores("BRANCH_LT", 0, 0.99999994), TRUE);
        assert_eq!(scores("BRANCH_GTE", 0, 1.0), TRUE);
        assert_eq!(scores("BRANCH_GT", 0, 1.0), FALSE);
        assert_eq!(scores("BRANCH_EQ", 0, 1.0), TRUE);
        assert_eq!(scores("BRANCH_NEQ", 0, 1.0), FALSE);
    }

    #[test]
    fn nan_follows_missing_value_tracks_true() {
        assert_eq!(scores("BRANCH_LEQ", 1, f32::NAN), TRUE);
        assert_eq!(scores("BRANCH_LEQ", 0, f32::NAN), FALSE);
        assert_eq!(scores("BRANCH_NEQ", 0, f32::NAN), TRUE); // NaN != t holds
    }

    #[test]
    fn softmax_and_labels() {
        let forest = parse_forest(&node("BRANCH_LEQ", 0, "SOFTMAX", &[10, 20, 30])).unwrap();
        let (labels, p) = forest.eval(&[0.0, 2.0], 1);
        assert_eq!(labels, [10, 20]);
        let e: Vec<f32> = TRUE.iter().map(|v| v.exp()).collect();
        let sum: f32 = e.iter().sum();
        for (a, b) in p[..3].iter().zip(&e) {
            assert!((a - b / sum).abs() < 1e-7);
        }
        assert!((p[3..].iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn many_rows_match_row_by_row() {
        let forest = parse_forest(&node("BRANCH_LT", 0, "NONE", &[0, 1, 2])).unwrap();
        let xs: Vec<f32> = (0..100).map(|i| i as f32 * 0.03).collect();
        let (_, all) = forest.eval(&xs, 1);
        for (i, x) in xs.iter().enumerate() {
            assert_eq!(
                &all[i * 3..i * 3 + 3],
                &forest.eval(&[*x], 1).1[..],
                "row {i}"
            );
        }
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        let mut n = node("BRANCH_LEQ", 0, "PROBIT", &[0, 1, 2]);
        assert!(parse_forest(&n).is_err());
        n = node("BRANCH_LEQ", 0, "NONE", &[0, 1, 2]);
        n.attribute[6] = ints("nodes_truenodeids", &[0, 0, 0, 0]); // a loop on the root
        assert!(parse_forest(&n).is_err());
        n = node("BRANCH_LEQ", 0, "NONE", &[0, 1, 2]);
        n.attribute[7] = ints("nodes_falsenodeids", &[7, 0, 0, 0]); // no such node
        assert!(parse_forest(&n).is_err());
    }
}
