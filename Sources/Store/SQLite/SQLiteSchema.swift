import GRDB

/// The SQLite database layout, as a list of migrations: a new version adds a migration, never
/// edits one. A database that has migrations this build does not know was written by a
/// newer evolve, and is refused rather than misread.
enum SQLiteSchema {
    /// The migrations in order, under the identifiers databases record as applied: never
    /// renamed, never edited.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { try v1($0) }
        m.registerMigration("v2") { try v2($0) }
        m.registerMigration("v3") { try v3($0) }
        m.registerMigration("v4") { try v4($0) }
        m.registerMigration("v5") { try v5($0) }
        m.registerMigration("v6") { try v6($0) }
        m.registerMigration("v7") { try v7($0) }
        m.registerMigration("v8") { try v8($0) }
        return m
    }

    /// The first layout: studies, their candidates, and each candidate's evaluations by band.
    static func v1(_ db: Database) throws {
        try db.create(table: "study") { t in
            t.autoIncrementedPrimaryKey("id")
            t.column("name", .text).notNull().unique()
            t.column("space", .text).notNull()          // the search-space file's text at the start
            t.column("seed", .integer).notNull()
            t.column("created", .datetime).notNull()
        }
        try db.create(table: "candidate") { t in
            t.autoIncrementedPrimaryKey("id")
            t.belongsTo("study").notNull()
            t.column("program", .text).notNull()       // the text form
            t.column("hash", .text).notNull().indexed()
            t.column("parentId", .integer).references("candidate")
            t.column("mutation", .text)
            t.column("generation", .integer).notNull()
            t.column("seed", .integer).notNull()
            t.column("status", .text).notNull().indexed()   // queued, running, done, failed
            t.column("failure", .text)                 // why a failed candidate failed
            t.column("fitness", .double)               // the last band's validation loss
            t.column("fitnessKind", .text)             // finite, inf, nan
            t.column("worker", .text)
            t.column("heartbeat", .datetime)
            t.column("completion", .integer).unique()  // 1, 2, 3 … in order of completion
            t.column("created", .datetime).notNull()
        }
        try db.create(table: "evaluation") { t in
            t.autoIncrementedPrimaryKey("id")
            t.belongsTo("candidate").notNull()
            t.column("band", .integer).notNull()
            t.column("loss", .double)
            t.column("lossKind", .text).notNull()
            t.column("steps", .integer).notNull()
            t.column("tokens", .integer).notNull()
            t.column("seconds", .double).notNull()
            t.column("parameters", .integer).notNull()
            t.column("flopsPerToken", .integer).notNull()
            t.uniqueKey(["candidateId", "band"])
        }
    }

    /// Leases and costs: the functional fingerprint, how many replicas trained it (part of
    /// what reproduces its loss), the steps of its schedule, and where its time went.
    static func v2(_ db: Database) throws {
        try db.alter(table: "candidate") { t in
            t.add(column: "fingerprint", .text).indexed()
            t.add(column: "replicas", .integer)
            t.add(column: "scheduleSteps", .integer)   // the budget resolved into steps
            t.add(column: "trainSeconds", .double)     // training and validation
            t.add(column: "overheadSeconds", .double)  // everything else: mutation, compile, database
            t.add(column: "reusedFrom", .integer)      // the twin whose result it took
        }
    }

    /// Failures keep their reason (a compile error's message, the step that diverged);
    /// a child keeps the mutation kind that made it and the kind first drawn for it.
    static func v3(_ db: Database) throws {
        try db.alter(table: "candidate") { t in
            t.add(column: "failureReason", .text)
            t.add(column: "mutationKind", .text)
            t.add(column: "drawnKind", .text)
        }
    }

    /// A study remembers its corpus, so that it is never resumed on other text.
    static func v4(_ db: Database) throws {
        try db.alter(table: "study") { t in
            t.add(column: "corpusSha256", .text)
            t.add(column: "corpusPath", .text)
        }
    }

    /// Leases across hosts: a token per claim that fences a worker's writes, the lease an
    /// evaluation was recorded under, and the seeds' texts (a worker elsewhere needs no files).
    static func v5(_ db: Database) throws {
        try db.alter(table: "candidate") { t in t.add(column: "lease", .integer) }
        try db.alter(table: "evaluation") { t in t.add(column: "lease", .integer) }
        try db.alter(table: "study") { t in
            t.add(column: "seeds", .text)
            t.add(column: "target", .integer)
        }
    }

    /// Losses also in bits per byte, which compare studies across tokenizers.
    static func v6(_ db: Database) throws {
        try db.alter(table: "candidate") { t in t.add(column: "bitsPerByte", .double) }
        try db.alter(table: "evaluation") { t in t.add(column: "bitsPerByte", .double) }
    }

    /// A ladder of scales: a rung job is a candidate row at a rung above 0, measuring its
    /// subject (a rung-0 candidate) at that rung's size.
    static func v7(_ db: Database) throws {
        try db.alter(table: "candidate") { t in
            t.add(column: "rung", .integer).notNull().defaults(to: 0)
            t.add(column: "subject", .integer).references("candidate")
        }
        try db.create(index: "candidate_subject", on: "candidate", columns: ["subject", "rung"])
    }

    /// A study keeps the precision its products multiply in (`Study.products`).
    static func v8(_ db: Database) throws {
        try db.alter(table: "study") { t in t.add(column: "products", .text) }
    }
}
