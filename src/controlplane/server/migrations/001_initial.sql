-- Policy documents, versioned: a push adds a row, nothing is updated or deleted, so the history is the table.
CREATE TABLE policy_versions (
  name text NOT NULL,
  version integer NOT NULL CHECK (version > 0),
  document jsonb NOT NULL,
  -- Who it applies to: identities in any of these groups, on these connections ('*' for all).
  groups text[] NOT NULL,
  connections text[] NOT NULL,
  -- Lower wins when several policies apply to one identity and connection.
  priority integer NOT NULL,
  author_subject text NOT NULL,
  author_email text,
  comment text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);

-- The connections catalog: where each connection goes (never a password) and which groups may use it.
CREATE TABLE connections (
  name text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('postgres')),
  upstream jsonb NOT NULL,
  groups text[] NOT NULL,
  updated_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
