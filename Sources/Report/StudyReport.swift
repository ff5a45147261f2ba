import Foundation
import Program
import Store

/// One HTML page about a study, written to a file by `evolve report`: the study page that
/// `evolve serve` shows (`StudyPage`), without links or the live script. Self-contained
/// (inline SVG and CSS), written from the database alone.
public struct StudyReport {
    public let store: Store
    public let study: Study
    /// The population size (the space's P).
    public var population: Int

    public init(store: Store, study: Study, population: Int) {
        self.store = store; self.study = study; self.population = population
    }

    public func html() throws -> String {
        StudyPage(try StudySnapshot.read(store, study: study, population: population)).html()
    }
}
