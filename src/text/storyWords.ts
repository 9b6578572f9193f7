/**
 * Word lists of the embedded story generator, all written for this kit. Entries may use the
 * template syntax of grammar.ts. Items are comma-separated; "a"/"an" is fixed after rendering.
 */
const L = (s: string): string[] => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0);

export const GIRL_NAMES = L(`Ada, Bella, Clara, Daisy, Ella, Fiona, Greta, Hana, Iris, June, Kira, Luna, Maya, Nora, Olive,
  Pia, Rosa, Sara, Tess, Uma, Vera, Wren, Zoe, Amara, Bea, Cora, Dina, Faye, Gina, Holly, Ivy, Jade, Lena, Mila,
  Nina, Opal, Ruby, Stella, Talia, Willa, Yara, Zara, Poppy, Mabel, Esme`);
export const BOY_NAMES = L(`Adam, Ben, Caleb, Dev, Eli, Finn, Gus, Hugo, Ian, Jack, Kai, Leo, Milo, Noah, Oscar, Pablo,
  Ravi, Theo, Umar, Victor, Will, Yusuf, Zack, Arlo, Bruno, Cody, Dario, Emil, Felix, Jonah, Luca, Marco, Nico, Otto,
  Omar, Reed, Tariq, Toby, Rufus, Basil, Ezra`);
export const NEUTRAL_NAMES = L(`Alex, Robin, Sky, River, Quinn, Rowan, Sage, Jamie, Riley, Charlie, Avery, Jordan, Casey,
  Remy, Ash, Eden, Kit, Marlow, Indigo, Shay, Ari, Bailey`);
export const CRITTER_NAMES = L(`Pip, Hazel, Bramble, Clover, Biscuit, Maple, Pebble, Thistle, Nutmeg, Button, Juniper, Fern,
  Acorn, Puddle, Sprout, Toffee, Whiskers, Dot, Mossy, Ziggy, Nibbles, Patches, Dusty, Bubbles, Sunny, Peanut`);
/** Animals that can be the hero of a story. */
export const CRITTERS = L(`bunny, kitten, puppy, fox, bear cub, duckling, mouse, squirrel, owl, frog, turtle, lamb, piglet,
  hedgehog, raccoon, fawn, otter, badger, chipmunk, goat`);

export const WORDS: Record<string, string[]> = {
  trait: L(`kind, curious, brave, shy, cheerful, clever, gentle, playful, busy, silly, careful, quiet, friendly, happy,
    sleepy, bouncy, thoughtful, helpful, proud, cheeky, lively, dreamy, polite, bold, sweet, funny, stubborn, patient`),
  color: L(`red, blue, green, yellow, purple, orange, pink, white, brown, golden, silver, black, gray, bright red,
    sky blue, spotted, striped`),
  size: L(`tiny, little, small, big, huge, round, long, short, tall, fat, thin`),
  texture: L(`soft, shiny, fluffy, bumpy, smooth, sparkly, fuzzy, squishy, sticky, warm, cold, heavy, light, old, new,
    muddy, wet, dry`),
  toy: L(`ball, kite, teddy bear, doll, toy car, wagon, puppet, robot, toy train, boat, drum, puzzle, marble, ribbon,
    yo-yo, whistle, spinning top, toy horse, rag doll, picture book, crayon box, jump rope, bouncy ball, toy truck`),
  thing: L(`hat, scarf, mitten, boot, necklace, shell, feather, shiny stone, bucket, shovel, umbrella, blanket, cup, spoon,
    lunch box, backpack, bracelet, key, map, coin, button, flower crown, sock, bell`),
  place: L(`park, beach, forest, garden, farm, lake, hill, meadow, library, zoo, market, pond, river, playground,
    backyard, orchard, village square, field, woods, valley`),
  home: L(`small house, cozy house, blue house, little cottage, yellow house, tall house, house with a red door,
    house by the road, little flat, big old house`),
  critterHome: L(`burrow, den, nest, hollow tree, cozy hole, little hut, house under a bush, home by the pond`),
  landmark: L(`big oak tree, old bridge, river, forest, hill, bakery, school, pond, farm, train tracks, lighthouse, market`),
  timeOfDay: L(`morning, afternoon, evening, day, night`),
  season: L(`spring, summer, autumn, winter, fall`),
  weather: L(`sunny, rainy, windy, snowy, cloudy, foggy, bright, warm, chilly, gray, stormy, quiet`),
  sky: L(`The sun was shining, The sky was [blue|gray|pink and orange], Rain tapped on the window, A cool wind was blowing,
    Soft snow was falling, Big clouds floated by, The birds were singing, The air smelled like [rain|flowers|fresh bread]`),
  happy: L(`happy, glad, joyful, excited, proud, cheerful, thrilled, delighted, calm, warm inside`),
  sad: L(`sad, upset, worried, lonely, grumpy, unhappy, scared, nervous, cross, gloomy`),
  food: L(`apple, cookie, sandwich, pie, cake, carrot, banana, muffin, pear, plum, peach, cupcake, pancake,
    biscuit, slice of bread, piece of cheese, orange, bowl of soup, cup of milk, bunch of grapes, bag of berries`),
  foods: L(`apples, cookies, sandwiches, carrots, berries, grapes, muffins, cherries, nuts, crackers, pancakes, plums`),
  animal: L(`bird, squirrel, frog, duck, rabbit, butterfly, ladybug, dog, cat, goose, owl, snail, beetle, bee, mouse,
    puppy, kitten, deer, fox, lizard, crab, goat, cow, sheep, horse, pig, hen, robin, crow`),
  animals: L(`birds, ducks, frogs, butterflies, cows, sheep, goats, horses, pigs, ducklings, fish, turtles, bees,
    monkeys, lions, zebras, giraffes, penguins, seals, crabs, seagulls, swans`),
  natureThing: L(`tree, bush, rock, log, flower, leaf pile, puddle, stump, fence, bench, hedge, sand pile, hay bale`),
  natureThings: L(`trees, flowers, rocks, shells, leaves, clouds, stars, hills, puddles, mushrooms, pinecones, rainbows`),
  furniture: L(`bed, table, sofa, chair, rug, stairs, door, shelf, box of toys, big pillow, basket`),
  hobby: L(`[draw|paint] pictures, build [towers|castles] with blocks, sing songs, jump in puddles, read books,
    climb trees, pick flowers, dance to music, bake cookies with {P.name}, feed the ducks, look at the stars,
    collect [leaves|rocks|shells], play hide and seek, run in the grass, make paper boats, splash in the bath,
    ride {H.his} bike, help in the garden, play [ball|tag|pretend] with {F.name}`),
  playPast: L(`ran, jumped, laughed, spun around, hopped, skipped, danced, rolled in the grass, sang, clapped,
    played tag, made a sand castle, chased bubbles, climbed on the rocks, threw pebbles in the water`),
  move: L(`ran, hopped, skipped, walked, raced, wandered, marched, tiptoed, hurried, went`),
  said: L(`said, said, said, asked, called, cried, shouted, whispered, replied, answered, laughed`),
  soft: L(`softly, gently, quietly, slowly, kindly, happily, with a smile, with a grin, in a small voice`),
  sound: L(`crash, bang, thump, snap, pop, creak, boom, splash, crack`),
  praise: L(`[Good|Great] job, Well done, You did it, That was very brave, I knew you could do it, Hooray`),
  thanks: L(`Thank you, Thanks, Thank you so much, Oh thank you`),
  friendWord: L(`friend, best friend, good friend, new friend, buddy, pal`),
  cheer: L(`Yay, Hooray, Wow, Look, Oh, Yippee`),
  sleep: L(`[fell asleep|went to sleep|went to bed|closed {H.his} eyes] with a [big|warm|happy|sleepy] smile,
    [hugged|cuddled] {H.his} pillow and dreamed of {@natureThings}, told {P.name} all about the day,
    smiled as the stars came out, ate a [warm|big|yummy] dinner and went to bed`),
  moral: L(`it is good to share, friends help each other, being brave feels good, it is okay to ask for help,
    kindness makes everyone happy, trying again is how you learn, patience is worth it, little things can mean a lot,
    a good friend is a real treasure, even a small helper can do a big job`),
};
