// The output bundle of an arena cell (the winner's, or any cell with --export): everything needed
// to reproduce, audit and deploy it. Layout (docs/ARENA.md):
//   OUT/bundle/README.md             what is where, and how to reproduce
//   OUT/bundle/pipeline_config.json  versions, seeds, every parameter, input SHA-256
//   OUT/bundle/datasets/             train.h5 (original training split), augmented_train.h5
//                                    (preprocessed + synthetic rows with provenance), test.h5
//   OUT/bundle/models/               preprocessor.json, generator.rfm (deep generators), one
//                                    model file per classifier (XGBoost JSON, rareforge JSON)
//   OUT/bundle/model_cards/          one Markdown card per classifier
// The cell is re-run exactly as the arena ran it (same split, preprocessing, seeds), so the
// models in the bundle are the ones whose scores the leaderboard shows for that seed.
#pragma once

#include <string>

#include "core/context.h"
#include "core/table.h"
#include "tools/arena.h"

namespace rareforge::arena {

/// Id of the cell to export for the winner: the best-ranked method other than "none" (overall
/// mean rank) on the first data set, seed 1; "" if every method failed.
std::string winner_cell(const ArenaConfig& config, const std::string& out_dir);

/// Write OUT/bundle for `cell` (replacing an older bundle only once the new one is complete).
void export_bundle(const ArenaConfig& config, const Cell& cell, const Table& data,
                   const std::string& out_dir, const Context& ctx);

/// SHA-256 of a file, lowercase hex.
std::string sha256_file(const std::string& path);

}  // namespace rareforge::arena
