import type { Grammar } from "./grammar";

/**
 * Plot templates of the embedded stories: a setup (story variables), then beats. Each beat renders
 * one of its alternatives; an optional beat appears with probability `p`. Every plot has a beginning,
 * a problem and an end. Characters: H hero, F friend, P parent/grandparent, A pet.
 */
export type Beat = readonly string[] | { readonly p: number; readonly alts: readonly string[] };

export interface Plot {
  readonly name: string;
  readonly setup?: (g: Grammar) => void;
  readonly beats: readonly Beat[];
  /** Lessons this plot can end with ("{H.Name} learned that ..."). */
  readonly morals: readonly string[];
}

/** Sets several variables from one randomly chosen scenario, so its sentences fit together. */
function scenario(g: Grammar, options: readonly Record<string, string>[]): void {
  const s = g.pick(options);
  for (const [k, v] of Object.entries(s)) g.vars[k] = g.render(v);
}

const lost: Plot = {
  name: "lost object",
  setup: (g) => {
    // The lost thing is the hero's favorite toy (same colour as introduced) or something else.
    if (g.chance(0.5)) [g.vars.lost, g.vars.lostColor] = [g.vars.toy, g.vars.toyColor];
    else {
      g.set("lost", "{@thing}");
      g.set("lostColor", "{@color}");
    }
  },
  beats: [
    [
      "One {@timeOfDay}, {H.name} took {H.his} {$lostColor} {$lost} to the {$place}.",
      "{H.Name} and {F.name} went to the {$place} to play. {H.Name} brought {H.his} {$lostColor} {$lost}.",
      "On a {@weather} day, {H.name} [went|walked|skipped] to the {$place} with {P.name}. {H.He} took {H.his} {$lostColor} {$lost} along.",
    ],
    [
      "{H.He} {@playPast} and {@playPast}[ until {H.his} legs were tired| all afternoon| for a long time|].",
      "At the {$place}, {H.he} saw {@size} {@animals} and {@color} {@natureThings}.",
      "[It was a fun day.|The {$place} was [busy|quiet|full of people|full of noise].] {H.Name} {@playPast}[ with {F.name}|].",
    ],
    [
      "When it was time to go home, {H.name} looked for {H.his} {$lost}. It was gone!",
      "[Later|After a while|Suddenly], {H.name} [reached|looked] for {H.his} {$lost}, but it was not there.",
      "But when {H.he} turned around, {H.his} {$lost} was [gone|missing|nowhere to be seen]!",
    ],
    [
      "{H.Name} felt [very|so|really] {@sad}. [{H.He} sat down and cried.|{H.His} lip began to shake.|{H.He} did not know what to do.|Big tears rolled down {H.his} cheeks.]",
      '"[Oh no|Oh dear|Uh oh]! Where is my {$lost}?" {H.he} {@said}.',
    ],
    [
      '{F.Name} [saw|heard] {H.him} and came over. "Don\'t worry, {H.name}. I will help you look," {F.he} said.',
      '{P.Name} gave {H.him} a hug. "Let\'s look for it together," {P.he} said {@soft}.',
      "A [friendly|little|wise|curious] {@animal} [saw|heard] {H.name} and came over to help.",
    ],
    [
      "They looked [under|behind|near] the {@natureThing}. [It was not there.|Nothing.|No {$lost}.] They looked [behind|beside|under] the {@natureThing}. [Still nothing.|It was not there either.]",
      "{H.Name} [searched|looked] [high and low|everywhere|in every corner]. {H.He} [checked|looked] [under|behind|inside] the {@natureThing} and [under|behind|near] the {@natureThing}.",
    ],
    [
      "At last, {H.he} saw something {$lostColor} [under|behind|next to] a {@natureThing}. It was {H.his} {$lost}!",
      "Then a {@animal} [came|ran|waddled] out from behind a {@natureThing}. It had the {$lost}[ in its mouth|]!",
      'Just then, {F.name} [shouted|called out], "{@Cheer}! I found it!" The {$lost} was [stuck in|lying by|hiding behind] a {@natureThing}.',
    ],
    [
      '{H.Name} [hugged|held] {H.his} {$lost} [tight|close|with both hands]. "{@Thanks}!" {H.he} said.',
      '"{@Cheer}!" {H.name} {@said}. {H.He} {H.was} so {@happy} to have {H.his} {$lost} back.',
    ],
    {
      p: 0.6,
      alts: [
        "From that day on, {H.name} always [kept|put] {H.his} {$lost} [in a safe place|in {H.his} pocket|close by].",
        "{H.Name} learned to [be more careful with|keep an eye on|take good care of] {H.his} things.",
      ],
    },
  ],
  morals: ["friends help each other", "it is okay to ask for help", "little things can mean a lot"],
};

const newFriend: Plot = {
  name: "new friend",
  setup: (g) => g.set("game", "tag", "hide and seek", "catch", "pirates", "hopscotch", "[store|school|house]", "ball"),
  beats: [
    [
      "One {@timeOfDay}, {H.name} went to the {$place}[ with {P.name}|]. There {H.he} saw a {F.kind} {H.he} had never seen before.",
      "[At|One day at] the {$place}, {H.name} saw a new {F.kind} sitting [alone|on a bench|under a tree].",
    ],
    [
      "The {F.kind} looked [sad|lonely|shy|a little scared] and [held|hugged] a {@color} {@toy}.",
      "Nobody was playing with the new {F.kind}. [{H.Name} felt sorry.|{H.Name} wondered why.]",
    ],
    [
      "{H.Name} felt [shy|nervous|a little shy] too. {H.His} [heart|tummy] felt [funny|fluttery|tight]. But {H.he} took a deep breath and walked over.",
      '{H.Name} [wanted to say hello|wanted to be friends] but did not know what to say. [{P.Name} smiled and said, "Just say hi."|Then {H.he} had an idea.]',
    ],
    [
      '"Hi! I am {H.name}," {H.he} said. "What is your name?" "I am {F.name}," said the {F.kind} {@soft}.',
      '"Hello," said {H.name}. "Do you want to play {$game} with me?" The {F.kind} [smiled|looked up|nodded]. "My name is {F.name}. Yes, please!"',
    ],
    [
      "{H.Name} and {F.name} played {$game} [all afternoon|until the sun went down|for a long time]. They {@playPast} and {@playPast}.",
      "They played {$game}. Then they [shared a snack|found a {@size} {@animal}|built a fort out of sticks|drew pictures in the sand]. [{F.Name} laughed a lot.|They laughed and laughed.]",
    ],
    { p: 0.5, alts: ['[Then|Suddenly] {F.name} fell and hurt {F.his} knee. {H.Name} [helped {F.him} up|held {F.his} hand] and said, "You are okay. I am here."'] },
    [
      'When it was time to go home, {F.name} said, "Will you play with me tomorrow?" "Yes!" said {H.name}. "We are friends now."',
      "[From that day on|After that], {H.name} and {F.name} were [best friends|the best of friends|always together]. They played {$game} every [day|week|{@season}].",
    ],
  ],
  morals: ["saying hello can make a new friend", "a good friend is a real treasure", "being brave feels good"],
};

const fear: Plot = {
  name: "fear overcome",
  setup: (g) => {
    scenario(g, [
      {
        fear: "the dark",
        scene: "When {P.name} turned off the light, {H.name}'s room felt [big|strange|full of shadows].",
        trying: "{H.He} [held|hugged] {H.his} {$toy} and looked [around|at the corner|under the bed].",
        win: "It was just {H.his} [chair|coat|lamp|pile of clothes]! The room was the same room, only darker.",
      },
      {
        fear: "the big slide",
        scene: "At the playground there was a [big|tall|twisty] slide. It was [very|so] tall.",
        trying: "{H.He} climbed up the ladder, one step at a time.",
        win: "{H.He} sat down and let go. Whoosh! {H.He} went down [fast as the wind|faster than a bird]!",
      },
      {
        fear: "the deep water",
        scene: "At the lake, the water was [cold|dark|very deep] and the waves [splashed|lapped] at the shore.",
        trying: "{H.He} put one foot in, then the other. The water was cool.",
        win: "Soon {H.he} {H.was} kicking and splashing and laughing in the water.",
      },
      {
        fear: "thunder",
        scene: "One night a storm came. {@Sound}! The thunder [shook the windows|was very loud].",
        trying: "{H.He} [peeked out the window|counted the seconds after each flash].",
        win: "The storm was far away. The thunder was just a big noise in the sky, and it could not hurt {H.him}.",
      },
      {
        fear: "the big dog next door",
        scene: "Next door lived a [big|huge|shaggy] dog. It barked [loudly|a lot] when anyone walked by.",
        trying: "{H.He} held out {H.his} hand very slowly.",
        win: "The dog sniffed {H.his} hand and wagged its tail. Then it licked {H.his} fingers!",
      },
      {
        fear: "the tall tree",
        scene: "In the [park|backyard] there was a tall tree with low branches.",
        trying: "{H.He} put {H.his} foot on the first branch and held on tight.",
        win: "Branch by branch, {H.he} climbed up. From the top {H.he} could see the whole [town|street|garden]!",
      },
      {
        fear: "the first day of school",
        scene: "The school was big and full of [new faces|noise|children {H.he} did not know].",
        trying: "{H.He} walked in and [sat at a small table|hung up {H.his} coat].",
        win: "A [kind|friendly] teacher smiled, and soon {H.he} {H.was} [painting|singing|playing] with the other children.",
      },
    ]);
    g.set("advice", "It is okay to be scared. Being brave means you try anyway.", "I will be right here with you.", "Let's count to three together.", "Take a big breath. You can do it.", "Everyone feels scared sometimes.");
  },
  beats: [
    ["{H.Name} was afraid of {$fear}.", "There was one thing {H.name} did not like: {$fear}.", "{H.Name} had a secret. {H.He} {H.was} scared of {$fear}."],
    ["{$scene}"],
    ['{H.His} [knees shook|hands felt cold|heart beat fast]. "I can\'t do it," {H.he} {@said}.', "{H.Name} [wanted to run away|hid behind {P.name}|shut {H.his} eyes tight]."],
    ['{P.Name} knelt down and said, "{$advice}"', '{F.Name} [held {H.his} hand|stood next to {H.him}] and said, "{$advice}"'],
    ["{$trying}"],
    { p: 0.5, alts: ['{H.He} counted, "One, two, three!"', "{H.He} took a [big|deep|slow] breath."] },
    ["{$win}"],
    ["{H.Name} {H.wasnt} scared anymore. {H.He} felt [so|very|really] proud.", '"I did it!" {H.name} shouted. {P.Name} clapped. "{@Praise}!" {P.he} said.'],
  ],
  morals: ["being brave feels good", "it is okay to be scared and try anyway", "scary things can be less scary up close"],
};

const sharing: Plot = {
  name: "sharing",
  setup: (g) => {
    if (g.chance(0.5)) {
      g.set("item", "{@food}");
      g.set("shareAct", "broke it in two", "gave half to {F.name}", "cut it into two pieces");
    } else {
      g.set("item", "{@toy}");
      g.set("shareAct", "let {F.name} have a turn", "gave it to {F.name} to try", "played with it together with {F.name}");
    }
  },
  beats: [
    ["One {@timeOfDay}, {P.name} gave {H.name} a {@size} {$item}.", "{H.Name} had a new {$item}. It was {@color} and {@texture}.", "{H.Name} found a {@texture} {$item} in {H.his} [bag|basket|lunch box]."],
    ['{H.He} [loved|liked] it [very much|so much|more than anything]. "This is mine," {H.he} said.', '"It is all mine," {H.name} said [with a smile|and held it close].'],
    [
      'Then {F.name} came over. {F.He} looked at the {$item}. "Can I [have some|play with it|try it] too?" {F.he} asked.',
      "{F.Name} [came|walked] by with a [sad|hungry|bored] face. {F.He} had nothing [to eat|to play with].",
    ],
    ['"No," said {H.name}. "It is mine!" {H.He} [turned away|hid it behind {H.his} back|held it tight].', "{H.Name} did not want to share. {H.He} [put it away|walked away|looked the other way]."],
    ["{F.Name} looked [sad|down at {F.his} feet|very sad] and [walked away|sat down alone|did not say a word].", "[Then|Soon] {H.name} felt bad inside. {H.His} tummy felt [funny|heavy|tight]."],
    [
      '{P.Name} saw what happened. "When we share, there is more fun for everyone," {P.he} said {@soft}.',
      "{H.Name} thought [about it|for a long time|hard]. Having the {$item} alone was not fun at all.",
    ],
    ['{H.Name} [ran after|went to] {F.name}. "Here," {H.he} said. "Let\'s share." And {H.he} {$shareAct}.', "So {H.name} {$shareAct}."],
    ['{F.Name} smiled a big smile. "{@Thanks}, {H.name}!" {F.he} said.', "Now they were both {@happy}. They [laughed|played|sat] together [under a tree|on the grass|in the sun]."],
  ],
  morals: ["it is good to share", "sharing makes fun bigger", "kindness makes everyone happy"],
};

const trip: Plot = {
  name: "trip",
  setup: (g) => {
    scenario(g, [
      { dest: "beach", sights: "[seagulls|crabs|shells] and [big waves|boats|sand castles]", act: "{H.Name} dug in the sand and [ran from the waves|built a sand castle|found a pink shell]." },
      { dest: "zoo", sights: "[lions|zebras|monkeys] and [giraffes|penguins|seals]", act: "{H.Name} watched the [monkeys swing|penguins swim|giraffes eat leaves] and laughed." },
      { dest: "farm", sights: "[cows|pigs|sheep] and [hens|goats|horses]", act: "{H.Name} fed the [goats|lambs|hens] and [rode a pony|picked eggs|petted a calf]." },
      { dest: "mountains", sights: "[tall pine trees|snowy tops|rushing streams] and [eagles|goats|deer]", act: "They walked up a [winding|steep|rocky] path and had a picnic by a stream." },
      { dest: "lake", sights: "[ducks|swans|fish] and [boats|lily pads|dragonflies]", act: "{H.Name} [skipped stones|paddled a little boat|fed the ducks] with {P.name}." },
      { dest: "city", sights: "[tall buildings|busy streets|bright lights] and [buses|pigeons|fountains]", act: "They visited a [museum with dinosaur bones|big toy shop|park with a fountain]." },
    ]);
    g.set("how", "car", "train", "bus", "boat");
    scenario(g, [
      { trouble: "Then the sky turned gray and it began to rain.", fix: "They [ran|hurried] under a [tree|roof|big umbrella] and [ate their snacks|sang a rain song|watched the drops]. Soon the sun came back out." },
      { trouble: "After a while, {H.name}'s legs got [tired|sore|wobbly].", fix: "{P.Name} [let {H.him} rest on a bench|gave {H.him} a snack|carried {H.his} bag]. Soon {H.he} felt [better|strong again]." },
      { trouble: "Then a big wind blew {H.his} hat away!", fix: '[{P.Name}|A kind man|A kind lady] ran after it and brought it back. "{@Thanks}!" said {H.name}.' },
      { trouble: "{H.Name}'s tummy began to rumble.", fix: "They sat on a blanket and ate {@foods} and {@foods}." },
    ]);
  },
  beats: [
    ['One {@season} morning, {P.name} said, "Today we are going to the {$dest}!"', "{H.Name} woke up [early|very early|before the sun]. Today was the day of the trip to the {$dest}!"],
    ["{H.Name} was so excited that {H.he} [jumped up and down|could not sit still|packed {H.his} bag twice].", "{H.He} packed {H.his} {@thing}, some {@foods} and {H.his} {$toy}."],
    ["They went by {$how}. {H.Name} looked out the window and saw {@natureThings} and {@animals}.", "The {$how} ride was long. {H.Name} [sang songs|counted {@animals}|played games|took a nap]."],
    ["At the {$dest}, they saw {$sights}.", "When they got to the {$dest}, {H.name} [gasped|laughed|clapped]. There were {$sights} everywhere!"],
    ["{$act}"],
    ["{$trouble} {$fix}"],
    [
      "On the way home, {H.name} [fell asleep|told {P.name} about {H.his} favorite part|hummed a little song]. It was the best trip ever.",
      '"Can we come back [tomorrow|again|next {@season}]?" {H.name} asked. {P.Name} laughed. "[Yes, we can|We will see|Maybe soon]."',
    ],
  ],
  morals: ["there is so much to see in the world", "a small problem does not have to spoil a fun day", "trips are best with family"],
};

const helping: Plot = {
  name: "helping someone",
  setup: (g) =>
    scenario(g, [
      {
        who: "a little bird with a hurt wing",
        problem: "The bird [could not fly|hopped in circles|chirped sadly].",
        help: "{H.Name} made a soft bed in a box with {H.his} {@thing}. {P.Name} helped wrap the wing.",
        after: "A few days later, the bird could fly again. It sang a happy song for {H.name}.",
      },
      {
        who: "a kitten stuck in a tree",
        problem: "The kitten [meowed and meowed|held on to a branch and shook]. It could not get down.",
        help: "{H.Name} ran to get {P.name}. {P.Name} brought a ladder, reached up and carried the kitten down.",
        after: "The kitten purred and rubbed against {H.name}'s legs.",
      },
      {
        who: "old Mr. Finch carrying heavy bags",
        problem: "The bags were [too heavy|very full], and Mr. Finch had to stop [again and again|to rest].",
        help: '"Let me help you!" said {H.name}. {H.He} carried [a bag|the bread|the apples] all the way to the door.',
        after: 'Mr. Finch smiled and gave {H.name} a {@food}. "You are a big help," said Mr. Finch.',
      },
      {
        who: "a duckling that had lost its family",
        problem: "It [peeped|cried] and looked [this way and that|up and down the river].",
        help: "{H.Name} walked slowly along the river, and the duckling followed {H.him}.",
        after: "Soon they heard loud quacks. The duckling swam back to its family.",
      },
      {
        who: "that {P.name}'s flowers were dry and droopy",
        problem: "It had not rained for [days|a long time|a whole week].",
        help: "{H.Name} filled a {@color} watering can and gave every flower a drink.",
        after: "Soon the flowers stood up tall again.",
      },
      {
        who: "that {F.name}'s block tower had fallen down",
        problem: "{F.Name} [sat on the floor and cried|looked at the blocks sadly].",
        help: "{H.Name} helped {F.him} build it again, one block at a time.",
        after: "The new tower was even taller than before!",
      },
    ]),
  beats: [
    [
      "One {@weather} {@timeOfDay}, {H.name} was [walking|playing|skipping] [near|in] the {$place} when {H.he} [saw|noticed] {$who}.",
      "[While {H.name} was playing outside|On the way home from the {$place}], {H.he} [saw|noticed] {$who}.",
    ],
    ["{$problem}"],
    ['{H.Name} wanted to help. "[I can help|Don\'t worry|I will help you]!" {H.he} said.', '"Oh no," {H.name} said. "[We have to help|I must do something|What can I do]?"'],
    ["{$help}"],
    ["{$after}"],
    [
      "{H.Name} felt [warm inside|very proud|so {@happy}]. Helping [felt good|was the best feeling|made {H.his} heart [glad|happy|full]].",
      '{P.Name} [smiled|hugged {H.him}]. "You have a kind heart, {H.name}," {P.he} said.',
    ],
  ],
  morals: ["even a small helper can do a big job", "kindness makes everyone happy", "helping others feels good"],
};

const broken: Plot = {
  name: "broken toy fixed",
  beats: [
    ["{H.Name} loved {H.his} {$toyColor} {$toy}. {H.He} played with it [every day|all the time|from morning to night].", "Every day, {H.name} played with {H.his} {$toy}. It was {H.his} [favorite|best|most special] toy."],
    [
      "One day, {H.he} [dropped|threw] the {$toy} too hard. {@Sound}! It broke into [two|three|many] pieces.",
      "[One {@timeOfDay}|Then one day], {A.name} the {A.kind} grabbed the {$toy} and ran. When {H.name} got it back, it was broken.",
      "{H.Name} [tripped|slipped] on the stairs and the {$toy} fell. {@Sound}! A piece came off.",
    ],
    ['{H.Name} [cried|sobbed|felt like crying]. "My {$toy} is broken!" {H.he} said.', "{H.Name} felt {@sad}. [{H.He} held the pieces in {H.his} hands.|{H.He} could not play with it now.]"],
    ['{P.Name} came to see. "Let me look," {P.he} said. "Maybe we can fix it."', '{F.Name} came over. "Don\'t be sad. We can fix it together," {F.he} said.'],
    [
      "They got [some glue|some tape|a needle and thread|a little hammer|some string]. [{H.Name} held the pieces while {P.name} worked.|They worked [slowly|carefully|together].]",
      "First they found all the pieces. Then they [glued|taped|sewed|tied] them back together.",
    ],
    [
      "Soon the {$toy} was [as good as new|fixed|whole again]. It had a [little|tiny|funny] [crack|patch|bump] now, but {H.name} did not mind.",
      "At last, the {$toy} [worked again|was fixed]! {H.Name} [jumped for joy|clapped|gave {P.name} a big hug].",
    ],
    ["Now {H.name} loves the {$toy} even more, because {H.he} helped fix it.", "From then on, {H.name} [played gently|was careful] with {H.his} {$toy}."],
  ],
  morals: ["broken things can often be fixed", "it is okay to ask for help", "a toy fixed with love is extra special"],
};

const learning: Plot = {
  name: "learning a skill",
  setup: (g) =>
    scenario(g, [
      { skill: "ride a bike", doing: "riding a bike", fail: "{H.he} got on the bike and [wobbled|tipped over|fell down].", tip: "Keep pedaling and look ahead.", success: "{H.He} pedaled and pedaled, and the bike went straight down the path!" },
      { skill: "swim", doing: "swimming", fail: "{H.he} [sank|swallowed some water|splashed and coughed].", tip: "Kick your legs and move your arms slowly.", success: "{H.He} kicked and paddled, and {H.he} floated across the pool!" },
      { skill: "tie shoes", doing: "tying shoes", fail: "the laces turned into a big knot.", tip: "Make two bunny ears and cross them over.", success: "{H.He} made two loops, crossed them and pulled. A perfect bow!" },
      { skill: "fly a kite", doing: "flying a kite", fail: "the kite [crashed into the grass|got stuck in a bush|spun and fell].", tip: "Run into the wind and let the string out slowly.", success: "{H.He} ran into the wind, and the kite rose high into the sky!" },
      { skill: "whistle", doing: "whistling", fail: "only air came out. Pfff!", tip: "Make your lips round, like a little O.", success: "{H.He} blew softly, and out came a clear, high whistle!" },
      { skill: "jump rope", doing: "jumping rope", fail: "the rope [hit {H.his} feet|got tangled around {H.his} legs].", tip: "Jump just when the rope comes down.", success: "One, two, three, ten jumps! {H.He} did not miss once!" },
      { skill: "bake bread", doing: "baking bread", fail: "the dough was [too sticky|flat as a pancake|hard as a rock].", tip: "Go slowly and follow each step.", success: "The bread came out of the oven tall and golden!" },
    ]),
  beats: [
    ["{H.Name} wanted to learn to {$skill}.", "{H.Name} saw {F.name} {$doing} and wished {H.he} could do it too.", "More than anything, {H.name} wanted to {$skill} like the big kids."],
    ["[The first time|At first|On the first try], {$fail}", "{H.He} tried, but {$fail}"],
    ['"I will never learn!" {H.name} said [sadly|with a frown|and stomped {H.his} foot].', "{H.Name} felt {@sad}. {H.He} wanted to give up."],
    ['{P.Name} said, "{$tip} Everyone needs practice."', '{F.Name} said, "{$tip} That is how I learned."'],
    ["So {H.name} tried again. And again. And again.", "{H.Name} tried again the next day, and the day after that."],
    ["{$success}"],
    ['"I did it!" {H.name} [shouted|cried|laughed]. "{@Praise}!" said {P.name}.', "{H.Name} {H.was} so proud. Now {H.he} could {$skill} all by {H.himself}."],
  ],
  morals: ["trying again is how you learn", "practice makes hard things easy", "nobody is good at something the first time"],
};

const rainy: Plot = {
  name: "rainy day",
  setup: (g) =>
    scenario(g, [
      { idea: "Let's build a fort!", doing: "They took every blanket and pillow in the house and made a big fort under the table.", after: "Inside the fort, they read books with a flashlight." },
      { idea: "Let's bake [some muffins|some cookies|a cake|banana bread|little pies]!", doing: "{H.Name} [mixed|stirred] the flour, eggs and milk. {P.Name} put the pan in the oven.", after: "The whole house smelled sweet. Everything was warm and yummy." },
      { idea: "Let's paint a picture of a sunny day!", doing: "{H.Name} painted a big yellow sun, green grass and {@size} {@color} {@animals}.", after: "They hung the picture on the wall for everyone to see." },
      { idea: "Let's put on a puppet show!", doing: "They made puppets out of old socks and buttons. {A.Name} the {A.kind} was the audience.", after: "The show was so funny that everyone laughed." },
      { idea: "Let's have a treasure hunt!", doing: "{P.Name} hid a {@toy} somewhere in the house. {H.Name} looked [under the {@furniture}|behind the {@furniture}|in every room].", after: "At last {H.he} found it inside [a boot|the bread box|a flower pot]!" },
    ]),
  beats: [
    ["One {@season} day, it was raining [hard|all day|and raining]. {H.Name} could not go [outside|to the {$place}].", "Rain tapped on the window all {@timeOfDay}. It was too [wet|cold|stormy] to play outside."],
    ['{H.Name} [sat|stood] by the window and [sighed|frowned]. "I am so bored," {H.he} said.', "{H.He} looked at the rain [on the window|in the puddles]. [Everything was gray.|There was nothing to do.]"],
    ['Then {P.name} had an idea. "{$idea}" {P.he} said.', '"I know," said {P.name}. "{$idea}"'],
    ["{$doing}"],
    ["{$after}"],
    [
      "When the rain stopped, {H.name} [ran|looked] outside. There was a [big|bright] rainbow in the sky!",
      '[By evening|Later], {H.name} was not bored at all. "Rainy days can be fun too," {H.he} said.',
    ],
  ],
  morals: ["rainy days can be fun too", "you can make fun anywhere", "a good idea can change a gray day"],
};

const seed: Plot = {
  name: "growing a seed",
  setup: (g) => g.set("plant", "sunflower", "tomato plant", "bean plant", "rose bush", "pumpkin vine"),
  beats: [
    ["One {@season} day, {P.name} gave {H.name} a [tiny|small|little brown] seed.", '{H.Name} found a seed in the [garden|grass|kitchen]. "What will it grow into?" {H.he} wondered.'],
    ["{H.He} dug a [small|little] hole, put the seed in and covered it with dirt.", "They planted it in a {@color} pot by the window."],
    ["Every day, {H.name} gave the seed water. But nothing happened.", '{H.Name} looked at the pot every morning. Still no plant. "Why is it so slow?" {H.he} asked.'],
    ['"Seeds need time, sun and water," said {P.name}. "Be patient."', '{P.Name} smiled. "Good things take time," {P.he} said.'],
    ["One morning, {H.name} saw a tiny green [sprout|leaf]!", "Then, after many days, a little green shoot [peeked out|came up]."],
    ["The plant grew [taller and taller|bigger every day]. Soon it was a [big|tall] {$plant}.", "It grew and grew into a {$plant}[ with {@color} flowers|]."],
    ["{H.Name} was [so|very] proud of {H.his} {$plant}. Waiting was hard, but it was worth it.", '"Look what I grew!" {H.name} told {F.name}. "{@Cheer}!" said {F.name}.'],
  ],
  morals: ["patience is worth it", "good things take time", "little seeds can grow into big things"],
};

export const PLOTS: readonly Plot[] = [lost, newFriend, fear, sharing, trip, helping, broken, learning, rainy, seed];

export const OPENINGS: readonly string[] = [
  "Once upon a time, there was a {$trait} little {H.kind} named {H.name}.",
  "Once upon a time, in a {$home} near the {@landmark}, there lived a {$trait} {H.kind} named {H.name}.",
  "{H.Name} was a {$trait} {H.kind} who lived in a {$home}[ near the {@landmark}| with {P.name}|].",
  "There was once a {H.kind} called {H.name}. {H.He} {H.was} [very|so|quite|a little bit] {$trait}.",
  "One {@weather} {@timeOfDay}, a {$trait} {H.kind} named {H.name} [woke up early|looked out the window|ran outside to play].",
  "In a {$home} at the edge of a {@size} [town|village|forest], there lived a {H.kind}. {H.His} name was {H.name}.",
];

export const DESCRIPTIONS: readonly string[] = [
  "{H.He} loved to {@hobby}[ more than anything| every day| with all {H.his} heart|].",
  "{H.His} favorite toy was a {$toyColor} {$toy}.",
  "{H.Name} lived with {P.name} and a [funny|fluffy|lazy|friendly|little] {A.kind} named {A.name}.",
  "Every {@season}, {H.he} liked to {@hobby}.",
  "{@Sky}, and {H.name} felt {@happy}.",
  "{H.His} best friend was {F.name}, a {@trait} {F.kind} who lived [next door|down the road|across the street|by the {@landmark}].",
];

export const ENDINGS: readonly string[] = [
  "That night, {H.name} {@sleep}.",
  "It was a [wonderful|happy|good|great] day[ for {H.name}|].",
  "And from then on, {H.name} was [a little braver|a little kinder|always {@happy}].",
  "The end.",
];
