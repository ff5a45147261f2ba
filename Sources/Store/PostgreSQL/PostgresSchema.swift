import Foundation

/// The PostgreSQL database layout: the same migrations, by name, as SQLite's (`SQLiteSchema`),
/// written in PostgreSQL's SQL. Append-only, as there: a new version adds a migration. A
/// database whose `evolve_migrations` names one this build does not know is refused.
enum PostgresSchema {
    static let migrations: [(String, [String])] = [
        ("v1", ["""
            CREATE TABLE study (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, space TEXT NOT NULL,
                                seed BIGINT NOT NULL, created TIMESTAMPTZ NOT NULL)
            """, """
            CREATE TABLE candidate (id BIGSERIAL PRIMARY KEY, studyId BIGINT NOT NULL REFERENCES study ON DELETE CASCADE,
                program TEXT NOT NULL, hash TEXT NOT NULL, parentId BIGINT REFERENCES candidate, mutation TEXT,
                generation BIGINT NOT NULL, seed BIGINT NOT NULL, status TEXT NOT NULL, failure TEXT, fitness DOUBLE PRECISION,
                fitnessKind TEXT, worker TEXT, heartbeat TIMESTAMPTZ, completion BIGINT UNIQUE, created TIMESTAMPTZ NOT NULL)
            """,
            "CREATE INDEX candidate_study_status ON candidate (studyId, status, id)",
            "CREATE INDEX candidate_hash ON candidate (hash)",
            """
            CREATE TABLE evaluation (id BIGSERIAL PRIMARY KEY, candidateId BIGINT NOT NULL REFERENCES candidate ON DELETE CASCADE,
                band BIGINT NOT NULL, loss DOUBLE PRECISION, lossKind TEXT NOT NULL, steps BIGINT NOT NULL, tokens BIGINT NOT NULL,
                seconds DOUBLE PRECISION NOT NULL, parameters BIGINT NOT NULL, flopsPerToken BIGINT NOT NULL,
                UNIQUE (candidateId, band))
            """]),
        ("v2", ["""
            ALTER TABLE candidate ADD COLUMN fingerprint TEXT, ADD COLUMN replicas BIGINT, ADD COLUMN scheduleSteps BIGINT,
                ADD COLUMN trainSeconds DOUBLE PRECISION, ADD COLUMN overheadSeconds DOUBLE PRECISION, ADD COLUMN reusedFrom BIGINT
            """, "CREATE INDEX candidate_fingerprint ON candidate (fingerprint)"]),
        ("v3", ["ALTER TABLE candidate ADD COLUMN failureReason TEXT, ADD COLUMN mutationKind TEXT, ADD COLUMN drawnKind TEXT"]),
        ("v4", ["ALTER TABLE study ADD COLUMN corpusSha256 TEXT, ADD COLUMN corpusPath TEXT"]),
        ("v5", ["ALTER TABLE candidate ADD COLUMN lease BIGINT", "ALTER TABLE evaluation ADD COLUMN lease BIGINT",
                "ALTER TABLE study ADD COLUMN seeds TEXT, ADD COLUMN target BIGINT", "CREATE SEQUENCE candidate_lease"]),
        ("v6", ["ALTER TABLE candidate ADD COLUMN bitsPerByte DOUBLE PRECISION",
                "ALTER TABLE evaluation ADD COLUMN bitsPerByte DOUBLE PRECISION"]),
        ("v7", ["ALTER TABLE candidate ADD COLUMN rung BIGINT NOT NULL DEFAULT 0, ADD COLUMN subject BIGINT REFERENCES candidate",
                "CREATE INDEX candidate_subject ON candidate (subject, rung)"]),
        ("v8", ["ALTER TABLE study ADD COLUMN products TEXT"]),
    ]

    /// Refuses a database that is neither empty nor evolve's, or that a newer evolve wrote;
    /// then (with `migrate`) applies the migrations it lacks, one process at a time.
    /// False (read-only) where the database holds no evolve schema yet.
    @discardableResult
    static func prepare(_ db: PostgresDatabase, migrate: Bool) throws -> Bool {
        let known = Set(migrations.map(\.0))
        return try db.write { c in
            if migrate { try c.serialize(.migrations) }
            let tables = try c.rows("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")
                .compactMap { try $0.text("name") }
            guard tables.contains("evolve_migrations") || tables.isEmpty else {
                throw StoreError(description: "\(db.location) is not an evolve database (it holds tables \(tables.prefix(5).joined(separator: ", "))); nothing was changed")
            }
            var applied = Set<String>()
            if tables.contains("evolve_migrations") {
                applied = Set(try c.rows("SELECT identifier FROM evolve_migrations").compactMap { try $0.text("identifier") })
            }
            guard applied.isSubset(of: known) else {
                throw StoreError(description: "\(db.location) was written by a newer evolve (its schema has migrations this build does not know); nothing was changed")
            }
            guard migrate else {
                // Read-only: the columns this build reads must be there (a server's database
                // cannot be copied aside and migrated as a SQLite file is).
                let missing = migrations.map(\.0).filter { !applied.contains($0) }
                if !applied.isEmpty, !missing.isEmpty {
                    throw StoreError(description: "\(db.location) was written by an older evolve (it lacks migrations \(missing.joined(separator: ", "))): "
                        + "run any command of this build that writes to it once (evolve worker, evolve search) to migrate it; nothing was changed")
                }
                return !applied.isEmpty
            }
            if tables.isEmpty { try c.execute("CREATE TABLE evolve_migrations (identifier TEXT PRIMARY KEY)", []) }
            for (name, statements) in migrations where !applied.contains(name) {
                for s in statements { try c.execute(s, []) }
                try c.execute("INSERT INTO evolve_migrations (identifier) VALUES (?)", [.text(name)])
            }
            return true
        }
    }
}
