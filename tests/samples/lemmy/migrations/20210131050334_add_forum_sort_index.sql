CREATE INDEX idx_post_aggregates_comments ON post_aggregates (comments DESC);

